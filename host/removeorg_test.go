package host

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/sdk"
)

// TestRemovedOrganizationLeavesNothingBehind checks issue 11, item 8: an
// organization created again with the id of a removed one starts empty
// (no dead letters to list or replay, no integrations, no queued
// statements, no counts), also after a restart, and what the removed one
// left is archived under removed-orgs/.
func TestRemovedOrganizationLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	held := sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return stuckSink{closing: &atomic.Bool{}}, nil
	})
	cfg.Plugins.AllowRuntime = append(cfg.Plugins.AllowRuntime, "held")
	settings := OrgSettings{BaseIRI: "https://newco.learningflow.example"}
	ctx := context.Background()
	start := func() *Host { return newHost(t, cfg, WithProvider("held", held)) }
	h := start()
	if err := h.PutOrg(ctx, "newco", settings); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SaveIntegration(ctx, "newco", Integration{ID: "held", Plugin: "held", Config: map[string]any{}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Statements queued (the sink never takes them) and dead letters.
	if err := h.Record(ctx, "newco", statements("newco", 0, 5)...); err != nil {
		t.Fatal(err)
	}
	if err := h.dead.Add(ctx, "newco", []deadletter.Letter{{Org: "newco", Sink: "held", StatementID: statement("newco", 9).ID,
		Class: DeadLetterRejected, Statement: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveOrg(ctx, "newco"); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, h *Host) {
		t.Helper()
		if dls, err := h.DeadLetters(ctx, "newco", DeadLetterFilter{}); err != nil || len(dls) != 0 {
			t.Errorf("the new organization lists %d dead letters of the removed one (%v)", len(dls), err)
		}
		if n, err := h.ReplayDeadLetters(ctx, "newco", DeadLetterFilter{}); err != nil || n != 0 {
			t.Errorf("ReplayDeadLetters = %d, %v; want nothing to replay", n, err)
		}
		if list, err := h.Integrations("newco"); err != nil || len(list) != 0 {
			t.Errorf("the new organization has integrations %+v (%v)", list, err)
		}
		if st, err := h.Status("newco"); err != nil || len(st.Sinks) != 0 || st.RefusedEvents != 0 {
			t.Errorf("status of the new organization = %+v, %v; want empty", st, err)
		}
	}
	if err := h.PutOrg(ctx, "newco", settings); err != nil {
		t.Fatal(err)
	}
	check(t, h)
	// The new organization's integration with the same id starts from zero.
	if _, err := h.SaveIntegration(ctx, "newco", Integration{ID: "held", Plugin: "held", Config: map[string]any{}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := sinkStatus(t, h, "newco", "held"); s.Queued != 0 || s.DeadLetters != 0 || s.Delivered != 0 || s.Retried != 0 {
		t.Errorf("status of the new integration = %+v, want it empty", s)
	}
	if err := h.RemoveIntegration(ctx, "newco", "held"); err != nil {
		t.Fatal(err)
	}
	// What the removed organization left is archived, all of it: the 5
	// queued statements and the dead letter.
	archives, err := filepath.Glob(filepath.Join(cfg.DataDir, removedDir, "newco-*", "deadletter.ndjson"))
	if err != nil || len(archives) != 1 {
		t.Fatalf("archives = %v, %v; want one", archives, err)
	}
	arch := deadletter.New(filepath.Dir(archives[0]))
	if err := os.Rename(archives[0], filepath.Join(filepath.Dir(archives[0]), "newco.ndjson")); err != nil {
		t.Fatal(err)
	}
	if old, err := arch.List(ctx, "newco", deadletter.Filter{}); err != nil || len(old) != 6 {
		t.Errorf("archive holds %d dead letters (%v), want 6", len(old), err)
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, start())
}

// TestRemovedOrganizationStartsSCORMFromScratch checks the rest of issue
// 11, item 8: SCORM attempt state belongs to its organization, so an
// organization created again with the id of a removed one starts its
// attempts from scratch, while another organization's attempt (same
// learner, package and attempt ids) goes on where it was; with the file
// backend the removed state is archived, with jetstream deleted.
func TestRemovedOrganizationStartsSCORMFromScratch(t *testing.T) {
	t.Parallel()
	url := jstest.Run(t, jstest.Options{}).URL()
	for _, backend := range []Backend{BackendFile, BackendJetStream} {
		t.Run(string(backend), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if backend == BackendJetStream {
				useJetStream(&cfg, url)
			}
			ctx := context.Background()
			h := newHost(t, cfg)
			scorm := func(org, id, call, cmi string) Event {
				return Event{ID: id, Org: org, Kind: "scorm.runtime", Time: "2025-03-14T09:00:00Z", User: &User{ID: "u-1842"},
					Payload: json.RawMessage(`{"version":"2004","package_id":"pkg-9","sco_id":"intro","attempt_id":"att-3","call":"` + call + `","cmi":` + cmi + `}`)}
			}
			record := func(ev Event) string {
				t.Helper()
				sts, err := h.RecordEvent(ctx, ev)
				if err != nil {
					t.Fatalf("RecordEvent(%s %s): %v", ev.Org, ev.ID, err)
				}
				var verbs []string
				for _, st := range sts {
					verbs = append(verbs, st.Verb.ID[strings.LastIndex(st.Verb.ID, "/")+1:])
				}
				return strings.Join(verbs, ",")
			}
			completed := `{"completion_status":"completed","success_status":"unknown"}`
			create := func(org string) {
				t.Helper()
				if err := h.PutOrg(ctx, org, OrgSettings{BaseIRI: "https://" + org + ".learningflow.example"}); err != nil {
					t.Fatal(err)
				}
				if _, err := h.SaveIntegration(ctx, org, Integration{ID: "mock", Plugin: "mock", Config: map[string]any{}}, SaveOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			for _, org := range []string{"newco", "other"} {
				create(org)
				record(scorm(org, "e1", "Initialize", `{"entry":"ab-initio"}`))
				if got := record(scorm(org, "e2", "Commit", completed)); got != "completed" {
					t.Fatalf("first commit of %s = %q, want completed", org, got)
				}
			}
			if err := h.RemoveOrg(ctx, "newco"); err != nil {
				t.Fatal(err)
			}
			create("newco")
			got := map[string]string{
				"newco": record(scorm("newco", "e3", "Commit", completed)),
				"other": record(scorm("other", "e3", "Commit", completed)),
			}
			want := map[string]string{
				"newco": "completed", // a new attempt: completion is news
				"other": "",          // already reported before
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("verbs of the same commit after newco was removed and created again (-want +got):\n%s", diff)
			}
			if backend == BackendFile {
				archived, err := filepath.Glob(filepath.Join(cfg.DataDir, removedDir, "newco-*", "state"))
				if err != nil || len(archived) != 1 {
					t.Errorf("archived state = %v, %v; want one directory", archived, err)
				}
			}
			if backend == BackendJetStream {
				archived, err := filepath.Glob(filepath.Join(cfg.DataDir, removedDir, "newco-*", "state.ndjson"))
				if err != nil || len(archived) != 1 {
					t.Fatalf("archived state = %v, %v; want one file", archived, err)
				}
				data, err := os.ReadFile(archived[0])
				if err != nil {
					t.Fatal(err)
				}
				var lines []archivedState
				dec := json.NewDecoder(bytes.NewReader(data))
				for dec.More() {
					var l archivedState
					if err := dec.Decode(&l); err != nil {
						t.Fatalf("archived state line %d: %v", len(lines)+1, err)
					}
					lines = append(lines, l)
				}
				if len(lines) == 0 {
					t.Fatal("the archive of newco's SCORM state is empty")
				}
				for _, l := range lines {
					if l.Key == "" || (len(l.State) == 0 && len(l.Base64) == 0) {
						t.Errorf("archived state line without key or state: %+v", l)
					}
				}
				if !bytes.Contains(data, []byte(`"completed":true`)) {
					t.Errorf("the archived state is not the completed attempt:\n%s", data)
				}
			}
		})
	}
}

// A SCORM call that found its organization before RemoveOrg took it out,
// and saves its attempt state after the statements are queued, must not
// leave that state behind: RemoveOrg archives only once the call is over,
// so the organization created again with the same id starts its attempt
// from scratch.
func TestRemoveOrgWaitsForEventCallsInProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	h := newHost(t, cfg)
	create := func() {
		t.Helper()
		if err := h.PutOrg(ctx, "newco", OrgSettings{BaseIRI: "https://newco.learningflow.example"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.SaveIntegration(ctx, "newco", Integration{ID: "mock", Plugin: "mock", Config: map[string]any{}}, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(id string) Event {
		return Event{ID: id, Org: "newco", Kind: "scorm.runtime", Time: "2025-03-14T09:00:00Z", User: &User{ID: "u-1842"},
			Payload: json.RawMessage(`{"version":"2004","package_id":"pkg-9","sco_id":"intro","attempt_id":"att-3","call":"Commit","cmi":{"completion_status":"completed","success_status":"unknown"}}`)}
	}
	create()

	queued := make(chan struct{})
	release := make(chan struct{})
	h.hookEventQueued = func(ev Event) {
		if ev.ID == "e1" {
			close(queued)
			<-release
		}
	}
	removeWaits := make(chan struct{})
	h.hookRemoveWaits = func(string) { close(removeWaits) }

	recorded := make(chan error, 1)
	go func() {
		_, err := h.RecordEvent(ctx, commit("e1"))
		recorded <- err
	}()
	<-queued
	removed := make(chan error, 1)
	go func() { removed <- h.RemoveOrg(ctx, "newco") }()
	// Let the call save its state once RemoveOrg is about to archive (or,
	// were it not to wait, has archived already).
	select {
	case <-removeWaits:
	case err := <-removed:
		removed <- err
	}
	close(release)
	if err := <-recorded; err != nil {
		t.Fatalf("RecordEvent during RemoveOrg: %v", err)
	}
	if err := <-removed; err != nil {
		t.Fatalf("RemoveOrg: %v", err)
	}
	h.hookEventQueued, h.hookRemoveWaits = nil, nil

	create()
	sts, err := h.RecordEvent(ctx, commit("e2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || !strings.HasSuffix(sts[0].Verb.ID, "/completed") {
		t.Errorf("the first commit of the organization created again yielded %d statements, want one 'completed': the removed organization's attempt state was left behind", len(sts))
	}
}
