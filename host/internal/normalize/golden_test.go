package normalize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// defaultNow is the arrival time of test events unless a case says
// otherwise.
const defaultNow = "2025-03-14T12:00:00Z"

// goldenCase is one input file of testdata: events normalized in order with
// the same Normalizer and StateStore, with restarts (a new Normalizer on the
// same StateStore) after the listed positions.
type goldenCase struct {
	// Settings are the org's settings; nil means testSettings().
	Settings *caseSettings `json:"settings"`
	// Now is the arrival time, RFC 3339; empty means defaultNow.
	Now string `json:"now"`
	// Events are the events, in order.
	Events []json.RawMessage `json:"events"`
	// RestartAfter lists event positions after which the Normalizer is
	// replaced by a new one on the same StateStore.
	RestartAfter []int `json:"restart_after"`
}

// caseSettings mirrors Settings with JSON names equal to the koanf keys.
type caseSettings struct {
	BaseIRI              string `json:"base_iri"`
	Identity             string `json:"identity"`
	SendNames            bool   `json:"send_names"`
	ChatText             string `json:"chat_text"`
	ChatTruncate         int    `json:"chat_truncate"`
	ScormInteractionVerb string `json:"scorm_interaction_verb"`
	Platform             string `json:"platform"`
}

func testSettings() Settings {
	s := DefaultSettings()
	s.BaseIRI = "https://acme.learningflow.example"
	return s
}

// goldenResult is the outcome of one event in a golden file.
type goldenResult struct {
	Event      string            `json:"event"`
	Statements []json.RawMessage `json:"statements,omitempty"`
	Error      *goldenError      `json:"error,omitempty"`
}

// goldenError describes a refusal by what callers branch on: the error kind,
// the field, the sentinel it wraps and the first xAPI rule broken.
type goldenError struct {
	Kind     string `json:"kind"`
	Field    string `json:"field"`
	Sentinel string `json:"sentinel,omitempty"`
	Rule     string `json:"rule,omitempty"`
}

func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.ToSlash(file), ".json")
		name = strings.TrimPrefix(name, "testdata/")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := readCase(t, file)
			got := runCase(t, c)
			// Recording the same events again on fresh state yields the
			// same bytes.
			if again := runCase(t, c); !bytes.Equal(got, again) {
				t.Errorf("second run differs (-first +second):\n%s", cmp.Diff(string(got), string(again)))
			}
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func readCase(t testing.TB, file string) goldenCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCase
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

func (c goldenCase) settings() Settings {
	if c.Settings == nil {
		return testSettings()
	}
	cs := c.Settings
	s := Settings{
		BaseIRI: cs.BaseIRI, Identity: cs.Identity, SendNames: cs.SendNames, ChatText: cs.ChatText,
		ChatTruncate: cs.ChatTruncate, ScormInteractionVerb: cs.ScormInteractionVerb, Platform: cs.Platform,
	}
	if s.BaseIRI == "" {
		s.BaseIRI = testSettings().BaseIRI
	}
	return s
}

func fixedClock(t testing.TB, now string) func() time.Time {
	t.Helper()
	if now == "" {
		now = defaultNow
	}
	at, err := time.Parse(time.RFC3339Nano, now)
	if err != nil {
		t.Fatalf("now: %v", err)
	}
	return func() time.Time { return at }
}

// runCase normalizes the events of c on fresh state and returns the golden
// encoding of the results.
func runCase(t *testing.T, c goldenCase) []byte {
	t.Helper()
	ctx := context.Background()
	store := NewMemoryState()
	clock := fixedClock(t, c.Now)
	n := New(store, clock)
	var results []goldenResult
	for i, raw := range c.Events {
		var ev Event
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		sts, err := n.Normalize(ctx, c.settings(), ev)
		r := goldenResult{Event: ev.ID}
		if err != nil {
			r.Error = describeError(t, err)
			t.Logf("event %d (%s): %v", i, ev.ID, err)
		}
		for _, st := range sts {
			r.Statements = append(r.Statements, checkStatement(t, st))
		}
		results = append(results, r)
		for _, k := range c.RestartAfter {
			if k == i {
				n = New(store, clock)
			}
		}
	}
	// Statements keep their canonical bytes: no HTML escaping.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(out.Bytes()), "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func describeError(t testing.TB, err error) *goldenError {
	t.Helper()
	var ee *EventError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v is not an *EventError", err)
	}
	g := &goldenError{Kind: ee.Kind.String(), Field: ee.Field}
	switch {
	case errors.Is(err, ErrUnknownKind):
		g.Sentinel = "ErrUnknownKind"
	case errors.Is(err, ErrVoiding):
		g.Sentinel = "ErrVoiding"
	}
	var probs xapi.Problems
	if errors.As(err, &probs) && len(probs) > 0 {
		g.Rule = string(probs[0].Rule)
	}
	return g
}

// checkStatement checks that st is valid for 2.0.0, that its 1.0.3
// encoding is valid for 1.0.3 (and equal to the 2.0.0 one unless st uses
// properties only 2.0 defines), and that it survives a strict decode; it
// returns the canonical encoding.
func checkStatement(t testing.TB, st *xapi.Statement) json.RawMessage {
	t.Helper()
	if probs := xapi.Validate(st, xapi.V200); len(probs) > 0 {
		t.Errorf("statement %s not valid for 2.0.0: %v", st.ID, probs)
	}
	b200, err := xapi.Marshal(st, xapi.V200)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	b103, err := xapi.Marshal(st, xapi.V103)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if _, probs := xapi.Check(b103, xapi.V103); len(probs) > 0 {
		t.Errorf("statement %s encoded for 1.0.3 is not valid for 1.0.3: %v", st.ID, probs)
	}
	v2Only := st.Context != nil && (st.Context.ContextAgents != nil || st.Context.ContextGroups != nil)
	if !v2Only && !bytes.Equal(b103, b200) {
		t.Errorf("statement %s encodes differently for 1.0.3 and 2.0.0", st.ID)
	}
	back, probs := xapi.Check(b200, xapi.V200)
	if len(probs) > 0 {
		t.Errorf("statement %s does not decode and validate again: %v", st.ID, probs)
	} else if again, _ := xapi.Marshal(back, xapi.V200); !bytes.Equal(again, b200) {
		t.Errorf("statement %s does not round-trip (-first +second):\n%s", st.ID, cmp.Diff(string(b200), string(again)))
	}
	return b200
}
