// Package mocktest reads what the mock sink recorded and compares it with the
// statements a test expects, for LearningFlow's own tests of the host.
//
// A recording is the NDJSON file named by the mock's record_file setting:
// one delivered statement per line, appended a batch at a time. The helpers
// here may read it while the plugin is still writing: an unterminated last
// line is a write in progress and is left out.
package mocktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Read returns the statements recorded in file, in the order they were
// delivered. A line that is not a JSON object is an error naming its line
// number.
func Read(file string) ([]json.RawMessage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out []json.RawMessage
		n   int
	)
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if k := len(line); k > 0 && line[k-1] == '\n' {
			n++
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 || line[0] != '{' || !json.Valid(line) {
				return nil, fmt.Errorf("recording %s line %d is not a json object", file, n)
			}
			out = append(out, json.RawMessage(line))
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Option adjusts how AssertStatements and Diff compare statements.
type Option func(*options)

type options struct {
	ignore   map[string]bool
	anyOrder bool
}

// IgnoreIDs leaves statement ids ("id") out of the comparison, for expected
// statements written without them. Default: ids are compared.
func IgnoreIDs() Option { return ignore("id") }

// IgnoreTimestamps leaves "timestamp" and "stored" out of the comparison.
// Default: they are compared.
func IgnoreTimestamps() Option { return ignore("timestamp", "stored") }

// IgnoreLRSFields leaves out the properties an LRS sets: "stored",
// "authority" and "version". Default: they are compared.
func IgnoreLRSFields() Option { return ignore("stored", "authority", "version") }

// IgnoreFields leaves the named top-level statement properties out of the
// comparison.
func IgnoreFields(names ...string) Option { return ignore(names...) }

func ignore(names ...string) Option {
	return func(o *options) {
		for _, n := range names {
			o.ignore[n] = true
		}
	}
}

// AnyOrder compares the statements as a multiset: the recording may hold
// them in any order (deliveries from several queues, retries). Default: the
// order must match.
func AnyOrder() Option { return func(o *options) { o.anyOrder = true } }

// Diff compares recorded statements with want and returns a readable
// (-want +got) diff, or "" when they match. JSON numbers compare by value,
// objects regardless of key order. It fails only when a statement is not
// valid JSON.
func Diff[S ~string | ~[]byte](got []json.RawMessage, want []S, opts ...Option) (string, error) {
	o := options{ignore: make(map[string]bool)}
	for _, opt := range opts {
		opt(&o)
	}
	g, err := normalize(got, o)
	if err != nil {
		return "", fmt.Errorf("recorded %w", err)
	}
	w, err := normalize(want, o)
	if err != nil {
		return "", fmt.Errorf("expected %w", err)
	}
	if o.anyOrder {
		sortDocs(g)
		sortDocs(w)
	}
	return cmp.Diff(w, g), nil
}

// statementDoc is a decoded statement.
type statementDoc = map[string]any

func normalize[S ~string | ~[]byte](in []S, o options) ([]statementDoc, error) {
	out := make([]statementDoc, 0, len(in))
	for i, raw := range in {
		var doc statementDoc
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			return nil, fmt.Errorf("statement %d is not a json object: %w", i, err)
		}
		for k := range o.ignore {
			delete(doc, k)
		}
		out = append(out, doc)
	}
	return out, nil
}

// sortDocs orders statements by their JSON encoding (map keys sorted), so
// that equal multisets line up.
func sortDocs(docs []statementDoc) {
	type keyed struct {
		key string
		doc statementDoc
	}
	ks := make([]keyed, len(docs))
	for i, d := range docs {
		b, _ := json.Marshal(d)
		ks[i] = keyed{string(b), d}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for i := range ks {
		docs[i] = ks[i].doc
	}
}

// AssertStatements reads the recording in recordFile and reports through
// t.Errorf, with a (-want +got) diff, unless it holds exactly the
// statements of want (JSON strings or byte slices such as json.RawMessage)
// under opts. It returns whether they matched.
func AssertStatements[S ~string | ~[]byte](t testing.TB, recordFile string, want []S, opts ...Option) bool {
	t.Helper()
	got, err := Read(recordFile)
	if err != nil {
		t.Errorf("mocktest: read recording: %v", err)
		return false
	}
	diff, err := Diff(got, want, opts...)
	if err != nil {
		t.Errorf("mocktest: %v", err)
		return false
	}
	if diff != "" {
		t.Errorf("mocktest: recording has %d statements, want %d; mismatch (-want +got):\n%s", len(got), len(want), diff)
		return false
	}
	return true
}

// Wait reads the recording in recordFile until it holds at least n
// statements and returns them, polling every few milliseconds while a
// plugin delivers. It fails the test with t.Fatalf when timeout passes
// first (or the recording cannot be read), reporting how many it saw. A
// missing file counts as an empty recording.
func Wait(t testing.TB, recordFile string, n int, timeout time.Duration) []json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := Read(recordFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("mocktest: read recording: %v", err)
			return nil
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("mocktest: recording has %d statements after %v, want at least %d", len(got), timeout, n)
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}
