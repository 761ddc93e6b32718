package hosttest_test

import (
	"testing"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

// plugins are the plugin executables of this test binary.
var plugins hosttest.Plugins

func TestMain(m *testing.M) {
	defer plugins.Remove()
	m.Run()
}

// quizCompleted is an event as LearningFlow hands it to the host.
var quizCompleted = host.Event{
	ID: "evt-1", Org: "acme", Kind: "quiz.completed", Time: "2025-03-14T09:12:30Z",
	User:    &host.User{ID: "u-1"},
	Payload: []byte(`{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":"att-1","score":7,"max_score":10}`),
}

// TestQuizReachesTheLRS is the example of the package documentation: an
// embedder's integration test from event to LRS, through the real lrs
// plugin process.
func TestQuizReachesTheLRS(t *testing.T) {
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	cfg := hosttest.Config(t, plugins.Dir(t, "lrs"))
	acme := host.OrgConfig{Sinks: []host.SinkConfig{{ID: "lrs", Label: "Acme LRS", Plugin: "lrs",
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": lrs.Endpoint, "key": hosttest.LRSKey, "secret": hosttest.LRSSecret}}}}
	acme.BaseIRI = "https://acme.learningflow.example"
	cfg.Orgs["acme"] = acme
	h := hosttest.New(t, cfg)

	stmts, err := h.RecordEvent(t.Context(), quizCompleted)
	if err != nil || len(stmts) == 0 {
		t.Fatalf("RecordEvent: %d statements, %v", len(stmts), err)
	}
	if err := h.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lrs.Len() != len(stmts) {
		t.Errorf("the LRS stores %d statements, want %d", lrs.Len(), len(stmts))
	}
}
