package host

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func TestRecordEventQueuesNormalizedStatements(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	h := newHost(t, cfg)
	ctx := context.Background()
	ev := Event{
		ID: "evt-1", Org: "acme", Kind: "quiz.completed", Time: "2025-03-14T09:12:30Z",
		User:   &User{ID: "u-1842"},
		Course: &Course{ID: "c-77", Title: "Biology 101", Lang: "en"},
		Payload: json.RawMessage(`{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":"att-88","score":7,"max_score":10,
			"pass_percent":60,"started_at":"2025-03-14T09:00:00Z","finished_at":"2025-03-14T09:12:30Z",
			"questions":[{"id":"q1","type":"choice","prompt":"Which?","response":"b","correct":true}]}`),
	}
	sts, err := h.RecordEvent(ctx, ev)
	if err != nil {
		t.Fatalf("RecordEvent: %v", err)
	}
	if len(sts) < 2 {
		t.Fatalf("RecordEvent returned %d statements, want the result and one per question", len(sts))
	}
	// Recording the same event again yields the same ids.
	again, err := h.RecordEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sts {
		if sts[i].ID != again[i].ID {
			t.Errorf("statement %d: id %s on the first recording, %s on the second", i, sts[i].ID, again[i].ID)
		}
	}
	waitIdle(t, h, 30*time.Second)
	ids, _ := recordedIDs(t, rec)
	for _, st := range sts {
		if ids[st.ID] == 0 {
			t.Errorf("statement %s (%s) not delivered", st.ID, st.Verb.ID)
		}
	}

	bad := ev
	bad.ID = "evt-2"
	bad.Payload = json.RawMessage(`{"quiz_id":"qz-5","score":"seven","max_score":10}`)
	_, err = h.RecordEvent(ctx, bad)
	var ee *EventError
	if !errors.As(err, &ee) || ee.EventID != "evt-2" || ee.Field == "" {
		t.Fatalf("RecordEvent(bad) = %v, want an EventError naming the event and field", err)
	}
	unknown := ev
	unknown.ID, unknown.Kind = "evt-3", "video.watched"
	if _, err := h.RecordEvent(ctx, unknown); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("RecordEvent(unknown kind) = %v, want ErrUnknownKind", err)
	}
	other := ev
	other.Org = "nobody"
	if _, err := h.RecordEvent(ctx, other); !errors.Is(err, ErrOrgUnknown) {
		t.Errorf("RecordEvent(unknown org) = %v, want ErrOrgUnknown", err)
	}
	st, err := h.Status("acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.RefusedEvents != 2 {
		t.Errorf("refused events = %d, want 2", st.RefusedEvents)
	}
	if st.Sinks[0].DeadLettered != 0 {
		t.Errorf("refused events must not count as delivery errors: %+v", st.Sinks[0])
	}
}

// TestSCORMStateSurvivesRestart records a SCORM attempt across a restart
// of the host on the same data directory: the attempt is resumed where it
// was, nothing is emitted twice, and a re-sent old call emits nothing new.
func TestSCORMStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	ctx := context.Background()
	scorm := func(id, at, call, cmi string) Event {
		return Event{ID: id, Org: "acme", Kind: "scorm.runtime", Time: at, User: &User{ID: "u-1842"},
			Payload: json.RawMessage(`{"version":"2004","package_id":"pkg-9","sco_id":"intro","attempt_id":"att-3","call":"` + call + `","cmi":` + cmi + `}`)}
	}
	verbs := func(sts []*xapi.Statement) []string {
		var out []string
		for _, st := range sts {
			out = append(out, st.Verb.ID[strings.LastIndex(st.Verb.ID, "/")+1:])
		}
		return out
	}
	h := newHost(t, cfg)
	first, err := h.RecordEvent(ctx, scorm("e1", "2025-03-14T09:00:00Z", "Initialize", `{"entry":"ab-initio"}`))
	if err != nil {
		t.Fatal(err)
	}
	commit := scorm("e2", "2025-03-14T09:10:00Z", "Commit", `{"completion_status":"completed","success_status":"unknown"}`)
	second, err := h.RecordEvent(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(verbs(first), verbs(second)...); strings.Join(got, ",") != "initialized,completed" {
		t.Fatalf("before the restart: %v, want initialized then completed", got)
	}
	waitIdle(t, h, 30*time.Second)
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	h2 := newHost(t, cfg)
	// LearningFlow re-sends an old commit after the restart: nothing new.
	old := commit
	old.ID = "e2-again"
	again, err := h2.RecordEvent(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("re-sent commit after restart emitted %v, want nothing", verbs(again))
	}
	last, err := h2.RecordEvent(ctx, scorm("e3", "2025-03-14T09:20:00Z", "Terminate",
		`{"completion_status":"completed","success_status":"passed","score":{"scaled":"0.9"},"session_time":"PT20M","exit":"normal"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(verbs(last), ","); got != "passed,terminated" {
		t.Errorf("after the restart: %s, want passed,terminated (no second completed or initialized)", got)
	}
	waitIdle(t, h2, 30*time.Second)
	ids, _ := recordedIDs(t, rec)
	if len(ids) != 4 {
		t.Errorf("delivered %d distinct statements, want 4", len(ids))
	}
}
