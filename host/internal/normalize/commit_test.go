package normalize

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSCORMAbortedCallYieldsItsStatementsLater checks that a call whose
// statements could not be queued (Abort) leaves the attempt as it was, so
// that re-sending it after any number of other calls yields its statements.
func TestSCORMAbortedCallYieldsItsStatementsLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testSettings()
	lost := scormEvent("s2", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a","result":"correct"}],"score":{"scaled":"0.5"}}`)
	tests := []struct {
		name string
		// between are the other calls of the attempt before the resend.
		between []Event
	}{
		{"resent at once", nil},
		{"resent after no-op calls", noOpCalls(2 * scormEventMemory)},
		{"resent after calls with statements", []Event{
			scormEvent("o1", "Commit", `{"interactions":[{"id":"q9","type":"choice","learner_response":"b"}]}`),
			scormEvent("o2", "Commit", `{"interactions":[{"id":"q8","type":"choice","learner_response":"b"}]}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNormalizer(t, NewMemoryState())
			if _, err := n.Normalize(ctx, s, scormEvent("s1", "Initialize", `{}`)); err != nil {
				t.Fatal(err)
			}
			p, err := n.Prepare(ctx, s, lost)
			if err != nil {
				t.Fatal(err)
			}
			want := encodeAll(t, p.Statements)
			p.Abort() // the queue was full
			for _, ev := range tt.between {
				if _, err := n.Normalize(ctx, s, ev); err != nil {
					t.Fatal(err)
				}
			}
			got, err := n.Normalize(ctx, s, lost)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, encodeAll(t, got)); diff != "" {
				t.Errorf("re-sent call after an abort (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSCORMResentAfterNoOpCalls checks that calls that yield nothing do not
// push the statements of a handled call out of the replay memory.
func TestSCORMResentAfterNoOpCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testSettings()
	n := newTestNormalizer(t, nil)
	first := scormEvent("s1", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a"}]}`)
	sts, err := n.Normalize(ctx, s, first)
	if err != nil || len(sts) != 1 {
		t.Fatalf("Normalize() = %d statements, %v; want 1", len(sts), err)
	}
	for _, ev := range noOpCalls(scormReplayMemory + 2) {
		if got, err := n.Normalize(ctx, s, ev); err != nil || len(got) != 0 {
			t.Fatalf("no-op call %s = %v, %v; want nothing", ev.ID, verbs(got), err)
		}
	}
	again, err := n.Normalize(ctx, s, first)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(encodeAll(t, sts), encodeAll(t, again)); diff != "" {
		t.Errorf("re-sent call after no-op calls (-first +again):\n%s", diff)
	}
}

// TestPrepareHoldsTheAttempt checks that a prepared SCORM call keeps the
// other calls of its attempt waiting until it is committed, so that state
// and queue change in the same order.
func TestPrepareHoldsTheAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testSettings()
	n := newTestNormalizer(t, nil)
	p, err := n.Prepare(ctx, s, scormEvent("s1", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan []string, 1)
	go func() {
		got, err := n.Normalize(ctx, s, scormEvent("s2", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a"}]}`))
		if err != nil {
			next <- []string{err.Error()}
			return
		}
		next <- verbs(got)
	}()
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// s2 ran after s1's state was saved: q1 is not new to it.
	if diff := cmp.Diff([]string(nil), <-next, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("call after a committed one (-want +got):\n%s", diff)
	}
	if err := p.Commit(ctx); err == nil {
		t.Error("second Commit = nil; want an error")
	}
}

// noOpCalls returns n commits that change nothing reportable.
func noOpCalls(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = scormEvent(fmt.Sprintf("noop-%d", i), "Commit", `{}`)
	}
	return out
}

// TestBounds checks that ids and SCORM attempts are bounded, each refusal
// naming the field.
func TestBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxIDLength+1)
	interactions := func(n int, id string) string {
		var b strings.Builder
		b.WriteString(`{"interactions":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%q,"type":"choice","learner_response":"a"}`, id+strconv.Itoa(i))
		}
		b.WriteString(`]}`)
		return b.String()
	}
	withAttempt := func(attempt string) Event {
		return event("e1", KindSCORMRuntime, `{"version":"2004","package_id":"p","sco_id":"s","attempt_id":"`+attempt+`","call":"Commit","cmi":{}}`)
	}
	tests := []struct {
		name  string
		ev    Event
		field string
	}{
		{"event id", scormEvent(long, "Commit", `{}`), "id"},
		{"user id", func() Event { e := scormEvent("e1", "Commit", `{}`); e.User.ID = long; return e }(), "user.id"},
		{"course id", func() Event { e := scormEvent("e1", "Commit", `{}`); e.Course = &Course{ID: long}; return e }(), "course.id"},
		{"attempt id", withAttempt(long), "payload.attempt_id"},
		{"interaction id", scormEvent("e1", "Commit", interactions(1, strings.Repeat("q", maxElementID))), "payload.cmi.interactions.0.id"},
		{"interactions", scormEvent("e1", "Commit", interactions(maxInteractions+1, "q")), "payload.cmi.interactions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newTestNormalizer(t, nil).Normalize(context.Background(), testSettings(), tt.ev)
			var ee *EventError
			if !errors.As(err, &ee) || ee.Field != tt.field {
				t.Fatalf("Normalize() = %v; want an *EventError for %s", err, tt.field)
			}
		})
	}
}

// TestSCORMStateIsBounded checks that an attempt whose replayable
// statements would pass the state bound keeps its state under the bound:
// the replays give way.
func TestSCORMStateIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewMemoryState()
	n := newTestNormalizer(t, store)
	resp := strings.Repeat("r", 1500)
	for c := range 3 {
		var b strings.Builder
		b.WriteString(`{"interactions":[`)
		for i := range maxInteractions {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"q%d","type":"fill-in","learner_response":"%s%d"}`, i, resp, c)
		}
		b.WriteString(`]}`)
		sts, err := n.Normalize(ctx, testSettings(), scormEvent(fmt.Sprintf("c%d", c), "Commit", b.String()))
		if err != nil || len(sts) != maxInteractions {
			t.Fatalf("call %d = %d statements, %v; want %d", c, len(sts), err, maxInteractions)
		}
		for _, k := range store.Keys("acme") {
			b, _, _ := store.Load(ctx, "acme", k)
			if len(b) > maxScormState {
				t.Fatalf("after call %d the attempt's state is %d bytes, more than %d", c, len(b), maxScormState)
			}
		}
	}
}
