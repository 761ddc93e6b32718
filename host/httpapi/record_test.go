package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// fakeRecorder records events in memory: it refuses kind "bad" with an
// EventError and remembers the order of events per user.
type fakeRecorder struct {
	mu     sync.Mutex
	byUser map[string][]string
}

func (f *fakeRecorder) RecordEvent(ctx context.Context, ev host.Event) ([]*xapi.Statement, error) {
	if ev.Kind == "bad" {
		return nil, &host.EventError{EventID: ev.ID, Field: "kind", Err: host.ErrUnknownKind}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	user := ""
	if ev.User != nil {
		user = ev.User.ID
	}
	f.byUser[ev.Org+"/"+user] = append(f.byUser[ev.Org+"/"+user], ev.ID)
	return make([]*xapi.Statement, 2), nil
}

func TestRecord(t *testing.T) {
	long := `{"id":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	tests := []struct {
		name  string
		input string
		want  []LineResult
		stats RecordStats
	}{
		{
			name:  "empty input",
			input: "",
			stats: RecordStats{},
		},
		{
			name:  "blank lines are skipped but counted, CRLF and a last line without newline",
			input: "\n" + `{"id":"a","org":"o","kind":"k"}` + "\r\n  \n" + `{"id":"b","org":"o","kind":"k"}`,
			want: []LineResult{
				{Line: 2, ID: "a", Org: "o", Kind: "k", Status: StatusRecorded, Statements: 2},
				{Line: 4, ID: "b", Org: "o", Kind: "k", Status: StatusRecorded, Statements: 2},
			},
			stats: RecordStats{Events: 2, Recorded: 2, Statements: 4},
		},
		{
			name:  "malformed lines and refused events do not stop the others",
			input: `{"id":"a",` + "\n" + `["x"]` + "\n" + `{"id":"b","org":"o","kind":"bad"}` + "\n" + `{"id":1}` + "\n" + `{"id":"c","org":"o","kind":"k"}` + "\n",
			want: []LineResult{
				{Line: 1, Status: StatusRefused, Code: CodeMalformed, Error: "malformed event: not valid JSON at byte 10: unexpected end of JSON input"},
				{Line: 2, Status: StatusRefused, Code: CodeMalformed, Error: "malformed event: want a JSON object, got array"},
				{Line: 3, ID: "b", Org: "o", Kind: "bad", Status: StatusRefused, Code: CodeUnknownKind, Field: "kind", Error: `event "b": kind: unknown event kind`},
				{Line: 4, Status: StatusRefused, Code: CodeMalformed, Error: "malformed event: id: want a JSON string, got number"},
				{Line: 5, ID: "c", Org: "o", Kind: "k", Status: StatusRecorded, Statements: 2},
			},
			stats: RecordStats{Events: 5, Recorded: 1, Refused: 4, Statements: 2},
		},
		{
			name:  "a line over the limit is refused without stopping",
			input: long + "\n" + `{"id":"c","org":"o","kind":"k"}` + "\n",
			want: []LineResult{
				{Line: 1, Status: StatusRefused, Code: CodeTooLong, Error: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)},
				{Line: 2, ID: "c", Org: "o", Kind: "k", Status: StatusRecorded, Statements: 2},
			},
			stats: RecordStats{Events: 2, Recorded: 1, Refused: 1, Statements: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rec := &fakeRecorder{byUser: map[string][]string{}}
			var got []LineResult
			st, err := Record(ctx, rec, strings.NewReader(tt.input), RecordOptions{Workers: 3, OnResult: func(r LineResult) { got = append(got, r) }})
			if err != nil {
				t.Fatal(err)
			}
			sort.Slice(got, func(i, j int) bool { return got[i].Line < got[j].Line })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stats, st); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordKeepsOrderPerLearner checks that events of one learner
// are recorded in file order however many workers record at once.
func TestRecordKeepsOrderPerLearner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var in bytes.Buffer
	want := map[string][]string{}
	for i := range 2000 {
		org, user := fmt.Sprintf("org%d", i%3), fmt.Sprintf("u%d", i%17)
		id := fmt.Sprintf("e%d", i)
		fmt.Fprintf(&in, `{"id":%q,"org":%q,"kind":"k","user":{"id":%q}}`+"\n", id, org, user)
		want[org+"/"+user] = append(want[org+"/"+user], id)
	}
	rec := &fakeRecorder{byUser: map[string][]string{}}
	var progress []RecordStats
	st, err := Record(ctx, rec, &in, RecordOptions{Workers: 8, ProgressEvery: time.Hour,
		Progress: func(s RecordStats, _ time.Duration, final bool) {
			if final {
				progress = append(progress, s)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rec.byUser); diff != "" {
		t.Errorf("order per learner mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]RecordStats{st}, progress); diff != "" {
		t.Errorf("final progress mismatch (-want +got):\n%s", diff)
	}
}

func TestRecordStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &fakeRecorder{byUser: map[string][]string{}}
	_, err := Record(ctx, rec, strings.NewReader(`{"id":"a","org":"o","kind":"k"}`+"\n"), RecordOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

// FuzzRecord feeds arbitrary bodies to Record: it never panics, and every
// non-empty line gets exactly one result, recorded or refused with a code.
func FuzzRecord(f *testing.F) {
	f.Add(`{"id":"a","org":"o","kind":"k"}` + "\n" + `{"id":`)
	f.Add("\r\n\n" + `{"id":"b","org":"o","kind":"bad","user":{"id":"u"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := &fakeRecorder{byUser: map[string][]string{}}
		var got []LineResult
		st, err := Record(context.Background(), rec, strings.NewReader(body), RecordOptions{Workers: 2, OnResult: func(r LineResult) { got = append(got, r) }})
		if err != nil {
			t.Fatal(err)
		}
		if st.Events != st.Recorded+st.Refused || int(st.Events) != len(got) {
			t.Fatalf("counts %+v for %d results", st, len(got))
		}
		for _, r := range got {
			if (r.Status == StatusRefused) != (r.Code != "") {
				t.Fatalf("result %+v: a refusal needs a code, a recorded line none", r)
			}
		}
	})
}
