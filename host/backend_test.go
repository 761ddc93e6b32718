package host

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// useJetStream points cfg at the NATS servers of url with settings for
// tests: one replica, a small stream, a short failover delay.
func useJetStream(cfg *Config, url string) {
	cfg.Queue.Backend = BackendJetStream
	cfg.Queue.NATS.URL = url
	cfg.Queue.NATS.Replicas = 1
	cfg.Queue.NATS.MaxTotalBytes = 64 << 20
	cfg.Queue.NATS.PinnedTTL = time.Second
	cfg.Queue.NATS.ConnectTimeout = 5 * time.Second
}

// forEachBackend runs fn as parallel subtests, once with the file backend
// and once with the jetstream backend on an embedded NATS server of its
// own. fn gets a test configuration for the backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, cfg Config)) {
	t.Helper()
	for _, b := range []Backend{BackendFile, BackendJetStream} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if b == BackendJetStream {
				useJetStream(&cfg, jstest.Run(t, jstest.Options{}).URL())
			}
			fn(t, cfg)
		})
	}
}

func TestBackendConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(c *Config)
		want []string // keys of the problems
	}{
		{"file is the default", func(*Config) {}, nil},
		{"file ignores nats settings", func(c *Config) { c.Queue.NATS.Replicas = 2 }, nil},
		{"unknown backend", func(c *Config) { c.Queue.Backend = "redis" }, []string{"queue.backend"}},
		{"jetstream needs a url", func(c *Config) { c.Queue.Backend = BackendJetStream }, []string{"queue.nats.url"}},
		{"jetstream valid", func(c *Config) { useJetStream(c, "nats://127.0.0.1:4222") }, nil},
		{"jetstream settings named", func(c *Config) {
			useJetStream(c, "nats://127.0.0.1:4222")
			c.Queue.NATS.Replicas = 2
			c.Queue.NATS.Stream = "bad name"
		}, []string{"queue.nats.stream", "queue.nats.replicas"}},
		{"ack pending below parallel batches", func(c *Config) {
			useJetStream(c, "nats://127.0.0.1:4222")
			c.Delivery.Parallel, c.Delivery.BatchSize = 4, 500
		}, []string{"queue.nats.max_ack_pending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			var got []string
			var ce *ConfigError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					got = append(got, p.Key)
				}
			} else if err != nil {
				t.Fatalf("Validate = %v, want a *ConfigError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestBackendConfigKeys(t *testing.T) {
	t.Parallel()
	yaml := []byte("queue:\n  backend: jetstream\n  nats:\n    replicas: 1\n    pinned_ttl: 2s\n")
	cfg, err := LoadConfigYAML(yaml, []string{"LRSBRIDGE_QUEUE__NATS__URL=nats://127.0.0.1:4222"})
	if err != nil {
		t.Fatalf("LoadConfigYAML: %v", err)
	}
	q := cfg.Queue
	if q.Backend != BackendJetStream || q.NATS.URL != "nats://127.0.0.1:4222" || q.NATS.Replicas != 1 ||
		q.NATS.PinnedTTL != 2*time.Second || q.NATS.Stream != "LRSBRIDGE" {
		t.Errorf("queue = %+v, want jetstream, the url from the environment, the file's replicas and pinned_ttl, the default stream", q)
	}
	_, err = LoadConfigYAML([]byte("queue:\n  backend: kafka\n  nats:\n    replica: 1\n"), []string{})
	for _, want := range []string{"queue.backend", "queue.nats.replica", "did you mean queue.nats.replicas?"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfigYAML error = %v, want it to mention %q", err, want)
		}
	}
}

// TestFileBackendDoesNotDialNATS gives a file-backend host the address of
// a listener as its NATS URL and checks that nothing connects to it.
func TestFileBackendDoesNotDialNATS(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var dialed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			c.Close()
		}
	}()
	cfg := testConfig(t)
	cfg.Queue.NATS.URL = "nats://" + ln.Addr().String()
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 3)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln.Close()
	<-done
	if n := dialed.Load(); n != 0 {
		t.Errorf("a file-backend host made %d connections to the NATS URL, want none", n)
	}
}

func TestJetStreamBackendUnreachableFailsClearly(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := testConfig(t)
	useJetStream(&cfg, "nats://user:hunter2@"+addr)
	cfg.Queue.NATS.ConnectTimeout = time.Second
	_, err = New(cfg)
	if err == nil || !strings.Contains(err.Error(), "queue.nats") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("New = %v, want an error naming queue.nats without the password", err)
	}
}

func TestBackendRecordDeliversEveryStatementOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		rec := filepath.Join(t.TempDir(), "acme.ndjson")
		addOrg(&cfg, "acme", mockSink("mock", rec, nil))
		h := newHost(t, cfg)
		ctx := context.Background()
		for i := range 10 {
			if err := h.Record(ctx, "acme", statements("acme", i*25, 25)...); err != nil {
				t.Fatalf("Record: %v", err)
			}
		}
		waitIdle(t, h, 30*time.Second)
		ids, _ := recordedIDs(t, rec)
		if len(ids) != 250 {
			t.Fatalf("delivered %d distinct statements, want 250", len(ids))
		}
		for i := range 250 {
			if n := ids[statement("acme", i).ID]; n != 1 {
				t.Errorf("statement %d delivered %d times, want once", i, n)
			}
		}
		if s := sinkStatus(t, h, "acme", "mock"); s.Delivered != 250 || s.Queued != 0 || s.State != StateActive {
			t.Errorf("status = %+v, want 250 delivered, none queued, active", s)
		}
	})
}

func TestBackendDeadLettersListReplayPurge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		rec := filepath.Join(t.TempDir(), "r.ndjson")
		replayed, purged := statement("acme", 3), statement("acme", 6)
		rules := []any{
			map[string]any{"id": replayed.ID, "message": "statement conflicts with stored data"},
			map[string]any{"id": purged.ID, "message": "statement conflicts with stored data"},
		}
		addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"reject": rules}))
		h := newHost(t, cfg)
		ctx := context.Background()
		if err := h.Record(ctx, "acme", statements("acme", 0, 10)...); err != nil {
			t.Fatal(err)
		}
		waitIdle(t, h, 30*time.Second)
		dls, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{Sink: "mock"})
		if err != nil {
			t.Fatal(err)
		}
		byStatement := map[string]DeadLetter{}
		for _, d := range dls {
			byStatement[d.StatementID] = d
			if d.Class != DeadLetterRejected || d.ID == "" || !strings.Contains(d.Reason, "conflicts with stored data") {
				t.Errorf("dead letter id %q class %q reason %q, want an id, class rejected and the sink's message", d.ID, d.Class, d.Reason)
			}
		}
		if len(dls) != 2 || byStatement[replayed.ID].ID == "" || byStatement[purged.ID].ID == "" {
			t.Fatalf("got %d dead letters, want the two rejected statements", len(dls))
		}
		if st := sinkStatus(t, h, "acme", "mock"); st.DeadLetters != 2 {
			t.Errorf("status shows %d dead letters, want 2", st.DeadLetters)
		}
		if got, _ := h.DeadLetters(ctx, "acme", DeadLetterFilter{Limit: 1}); len(got) != 1 || got[0].ID != dls[1].ID {
			t.Errorf("DeadLetters with limit 1 = %+v, want the newest", got)
		}

		if _, err := h.SaveIntegration(ctx, "acme", Integration{ID: "mock", Label: "Mock", Plugin: "mock",
			Config: map[string]any{"record_file": rec}}, SaveOptions{}); err != nil {
			t.Fatalf("SaveIntegration: %v", err)
		}
		n, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{IDs: []string{byStatement[replayed.ID].ID}})
		if err != nil || n != 1 {
			t.Fatalf("ReplayDeadLetters = %d, %v; want 1", n, err)
		}
		waitIdle(t, h, 30*time.Second)
		if ids, _ := recordedIDs(t, rec); ids[replayed.ID] != 1 || ids[purged.ID] != 0 {
			t.Errorf("replayed statement delivered %d times (want 1), purged one %d (want 0)", ids[replayed.ID], ids[purged.ID])
		}
		n, err = h.PurgeDeadLetters(ctx, "acme", DeadLetterFilter{})
		if err != nil || n != 1 {
			t.Errorf("PurgeDeadLetters = %d, %v; want 1", n, err)
		}
		if left, _ := h.DeadLetters(ctx, "acme", DeadLetterFilter{}); len(left) != 0 {
			t.Errorf("%d dead letters left, want 0", len(left))
		}
	})
}

func TestBackendRestartDeliversWhatWasQueued(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		rec := filepath.Join(t.TempDir(), "r.ndjson")
		paused := cfg
		paused.Orgs = map[string]OrgConfig{}
		addOrg(&paused, "acme", mockSink("mock", rec, map[string]any{"auth_fail": "unauthenticated"}))
		h := newHost(t, paused)
		ctx := context.Background()
		if err := h.Record(ctx, "acme", statements("acme", 0, 20)...); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the integration to pause", func() bool {
			return sinkStatus(t, h, "acme", "mock").State == StatePausedAuth
		})
		if err := h.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}

		addOrg(&cfg, "acme", mockSink("mock", rec, nil))
		h2 := newHost(t, cfg)
		waitIdle(t, h2, 30*time.Second)
		ids, _ := recordedIDs(t, rec)
		for i := range 20 {
			if n := ids[statement("acme", i).ID]; n != 1 {
				t.Errorf("statement %d delivered %d times after the restart, want once", i, n)
			}
		}
	})
}

func TestBackendRemovedIntegrationStatementsAreDeadLettered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		rec := filepath.Join(t.TempDir(), "r.ndjson")
		addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"auth_fail": "unauthenticated"}))
		h := newHost(t, cfg)
		ctx := context.Background()
		if err := h.Record(ctx, "acme", statements("acme", 0, 7)...); err != nil {
			t.Fatal(err)
		}
		if err := h.RemoveIntegration(ctx, "acme", "mock"); err != nil {
			t.Fatal(err)
		}
		dls, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{Sink: "mock"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, d := range dls {
			if d.Class != DeadLetterRemoved {
				t.Errorf("dead letter class %q, want %q", d.Class, DeadLetterRemoved)
			}
			got[d.StatementID] = true
		}
		for i := range 7 {
			if !got[statement("acme", i).ID] {
				t.Errorf("statement %d is not in the dead letters after the removal", i)
			}
		}
	})
}

// TestSharedHostsSaveOnOneDeliverFromAnother runs three hosts on one
// embedded NATS server: an integration saved through A delivers from B
// once A is shut down, dead letters made on B are listed and replayed
// from C, and a removal on C stops the integration on B.
func TestSharedHostsSaveOnOneDeliverFromAnother(t *testing.T) {
	t.Parallel()
	url := jstest.Run(t, jstest.Options{}).URL()
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	config := func() Config {
		cfg := testConfig(t)
		useJetStream(&cfg, url)
		cfg.Secrets.Key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // the same on every instance
		addOrg(&cfg, "acme")
		return cfg
	}
	ctx := context.Background()
	a, b := newHost(t, config()), newHost(t, config())
	mockIn := func(extra map[string]any) Integration {
		c := map[string]any{"record_file": rec}
		for k, v := range extra {
			c[k] = v
		}
		return Integration{ID: "m", Label: "Mock", Plugin: "mock", Config: c}
	}
	if _, err := a.SaveIntegration(ctx, "acme", mockIn(nil), SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration on A: %v", err)
	}
	hasConfig := func(h *Host, key string, want bool) func() bool {
		return func() bool {
			list, err := h.Integrations("acme")
			if err != nil || len(list) != 1 || list[0].ID != "m" {
				return false
			}
			_, ok := list[0].Config[key]
			return ok == want
		}
	}
	eventually(t, 30*time.Second, "B to apply the integration saved on A", hasConfig(b, "record_file", true))
	if err := a.Record(ctx, "acme", statements("acme", 0, 50)...); err != nil {
		t.Fatalf("Record on A: %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown A: %v", err)
	}
	if err := b.Record(ctx, "acme", statements("acme", 50, 50)...); err != nil {
		t.Fatalf("Record on B: %v", err)
	}
	waitIdle(t, b, 60*time.Second)
	ids, _ := recordedIDs(t, rec)
	for i := range 100 {
		if ids[statement("acme", i).ID] == 0 {
			t.Errorf("statement %d was not delivered", i)
		}
	}

	victim := statement("acme", 100)
	reject := []any{map[string]any{"id": victim.ID, "message": "statement conflicts with stored data"}}
	if _, err := b.SaveIntegration(ctx, "acme", mockIn(map[string]any{"reject": reject}), SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration on B: %v", err)
	}
	if err := b.Record(ctx, "acme", victim); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b, 30*time.Second)

	c := newHost(t, config())
	dls, err := c.DeadLetters(ctx, "acme", DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].StatementID != victim.ID || dls[0].Class != DeadLetterRejected {
		t.Fatalf("dead letters listed on C = %+v, want the statement rejected on B", dls)
	}
	if st := sinkStatus(t, c, "acme", "m"); st.DeadLetters != 1 {
		t.Errorf("status on C shows %d dead letters, want 1", st.DeadLetters)
	}
	if _, err := c.SaveIntegration(ctx, "acme", mockIn(nil), SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration on C: %v", err)
	}
	eventually(t, 30*time.Second, "B to apply the fix saved on C", hasConfig(b, "reject", false))
	n, err := c.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{})
	if err != nil || n != 1 {
		t.Fatalf("ReplayDeadLetters on C = %d, %v; want 1", n, err)
	}
	waitIdle(t, c, 30*time.Second)
	if ids, _ := recordedIDs(t, rec); ids[victim.ID] != 1 {
		t.Errorf("replayed statement delivered %d times, want once", ids[victim.ID])
	}
	if left, _ := b.DeadLetters(ctx, "acme", DeadLetterFilter{}); len(left) != 0 {
		t.Errorf("B lists %d dead letters after the replay on C, want 0", len(left))
	}

	if err := c.RemoveIntegration(ctx, "acme", "m"); err != nil {
		t.Fatalf("RemoveIntegration on C: %v", err)
	}
	eventually(t, 30*time.Second, "B to apply the removal made on C", func() bool {
		list, err := b.Integrations("acme")
		return err == nil && len(list) == 0
	})
}

// TestSharedHostsContinueSCORMAttempt starts a SCORM attempt on one host
// and continues it on another with its own data directory: the attempt
// state is shared, so nothing is emitted twice.
func TestSharedHostsContinueSCORMAttempt(t *testing.T) {
	t.Parallel()
	url := jstest.Run(t, jstest.Options{}).URL()
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	config := func() Config {
		cfg := testConfig(t)
		useJetStream(&cfg, url)
		addOrg(&cfg, "acme", mockSink("mock", rec, nil))
		return cfg
	}
	scorm := func(id, at, call, cmi string) Event {
		return Event{ID: id, Org: "acme", Kind: "scorm.runtime", Time: at, User: &User{ID: "u-1842"},
			Payload: json.RawMessage(`{"version":"2004","package_id":"pkg-9","sco_id":"intro","attempt_id":"att-3","call":"` + call + `","cmi":` + cmi + `}`)}
	}
	verbs := func(sts []*xapi.Statement) string {
		var out []string
		for _, st := range sts {
			out = append(out, st.Verb.ID[strings.LastIndex(st.Verb.ID, "/")+1:])
		}
		return strings.Join(out, ",")
	}
	ctx := context.Background()
	a, b := newHost(t, config()), newHost(t, config())
	if _, err := a.RecordEvent(ctx, scorm("e1", "2025-03-14T09:00:00Z", "Initialize", `{"entry":"ab-initio"}`)); err != nil {
		t.Fatal(err)
	}
	commit := scorm("e2", "2025-03-14T09:10:00Z", "Commit", `{"completion_status":"completed","success_status":"unknown"}`)
	if got, err := a.RecordEvent(ctx, commit); err != nil || verbs(got) != "completed" {
		t.Fatalf("commit on A = %s, %v; want completed", verbs(got), err)
	}
	commit.ID = "e2-again"
	if got, err := b.RecordEvent(ctx, commit); err != nil || len(got) != 0 {
		t.Errorf("the same commit on B = %s, %v; want nothing", verbs(got), err)
	}
	last, err := b.RecordEvent(ctx, scorm("e3", "2025-03-14T09:20:00Z", "Terminate",
		`{"completion_status":"completed","success_status":"passed","score":{"scaled":"0.9"},"session_time":"PT20M","exit":"normal"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := verbs(last); got != "passed,terminated" {
		t.Errorf("terminate on B = %s, want passed,terminated (no second initialized or completed)", got)
	}
	waitIdle(t, b, 30*time.Second)
	if ids, _ := recordedIDs(t, rec); len(ids) != 4 {
		t.Errorf("delivered %d distinct statements, want 4", len(ids))
	}
}

// TestBackendReplaysMoreThanOneAppend replays 1,001 dead letters of one
// integration (more than the jetstream backend takes in one append), and
// checks that a Record call of 1,001 statements is refused as a whole by
// the jetstream backend with a message that says the limit.
func TestBackendReplaysMoreThanOneAppend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		rec := filepath.Join(t.TempDir(), "r.ndjson")
		addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"auth_fail": "unauthenticated"}))
		h := newHost(t, cfg)
		ctx := context.Background()
		const total = 1001
		err := h.Record(ctx, "acme", statements("acme", 0, total)...)
		if cfg.Queue.Backend == BackendJetStream {
			if err == nil || !strings.Contains(err.Error(), "at most 1000") {
				t.Fatalf("Record of %d statements = %v, want a refusal naming the limit of 1000", total, err)
			}
			if st := sinkStatus(t, h, "acme", "mock"); st.Queued != 0 {
				t.Fatalf("%d statements queued by a refused call, want 0", st.Queued)
			}
			for i := 0; i < total; i += 500 {
				if err := h.Record(ctx, "acme", statements("acme", i, min(500, total-i))...); err != nil {
					t.Fatal(err)
				}
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if err := h.RemoveIntegration(ctx, "acme", "mock"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.SaveIntegration(ctx, "acme", Integration{ID: "mock", Label: "Mock", Plugin: "mock",
			Config: map[string]any{"record_file": rec}}, SaveOptions{}); err != nil {
			t.Fatalf("SaveIntegration: %v", err)
		}
		n, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{})
		if err != nil || n != total {
			t.Fatalf("ReplayDeadLetters = %d, %v; want %d", n, err, total)
		}
		waitIdle(t, h, 60*time.Second)
		if ids, _ := recordedIDs(t, rec); len(ids) != total {
			t.Errorf("delivered %d distinct statements after the replay, want %d", len(ids), total)
		}
	})
}

// TestSharedHostsShowTheSameStatus checks that Status shows the delivery
// counts and the state of an integration whichever instance answers,
// though only one of them delivers it.
func TestSharedHostsShowTheSameStatus(t *testing.T) {
	t.Parallel()
	url := jstest.Run(t, jstest.Options{}).URL()
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	config := func(org string, extra map[string]any) Config {
		cfg := testConfig(t)
		useJetStream(&cfg, url)
		addOrg(&cfg, org, mockSink("mock", rec, extra))
		return cfg
	}
	ctx := context.Background()
	a := newHost(t, config("acme", nil))
	b := newHost(t, config("acme", nil))
	if err := a.Record(ctx, "acme", statements("acme", 0, 20)...); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(ctx, "acme", statements("acme", 20, 20)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, a, 30*time.Second)
	for name, h := range map[string]*Host{"A": a, "B": b} {
		eventually(t, 30*time.Second, "host "+name+" to show the 40 deliveries of both instances", func() bool {
			st := sinkStatus(t, h, "acme", "mock")
			return st.Delivered == 40 && st.Queued == 0 && st.State == StateActive
		})
	}

	// An organization whose credentials are refused: whichever instance
	// holds it pauses, and both show it paused.
	c := newHost(t, config("beacon", map[string]any{"auth_fail": "unauthenticated"}))
	d := newHost(t, config("beacon", map[string]any{"auth_fail": "unauthenticated"}))
	if err := c.Record(ctx, "beacon", statements("beacon", 0, 3)...); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*Host{"C": c, "D": d} {
		eventually(t, 30*time.Second, "host "+name+" to show beacon paused", func() bool {
			st := sinkStatus(t, h, "beacon", "mock")
			return st.State == StatePausedAuth && st.LastError != ""
		})
	}
}

// TestSharedHostsApplyOrganizations saves an organization with an
// integration on one host and removes it there: the other host serves it
// and then stops serving it.
func TestSharedHostsApplyOrganizations(t *testing.T) {
	t.Parallel()
	url := jstest.Run(t, jstest.Options{}).URL()
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	config := func() Config {
		cfg := testConfig(t)
		useJetStream(&cfg, url)
		return cfg
	}
	ctx := context.Background()
	a, b := newHost(t, config()), newHost(t, config())
	settings := OrgSettings{BaseIRI: "https://globex.learningflow.example"}
	if err := a.PutOrg(ctx, "globex", settings); err != nil {
		t.Fatalf("PutOrg on A: %v", err)
	}
	if _, err := a.SaveIntegration(ctx, "globex", Integration{ID: "m", Label: "Mock", Plugin: "mock",
		Config: map[string]any{"record_file": rec}}, SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration on A: %v", err)
	}
	eventually(t, 30*time.Second, "B to serve the organization and integration saved on A", func() bool {
		info, err := b.Org("globex")
		list, _ := b.Integrations("globex")
		return err == nil && info.Settings == settings && info.Source == SourceSaved && len(list) == 1
	})
	if err := b.Record(ctx, "globex", statements("globex", 0, 5)...); err != nil {
		t.Fatalf("Record on B: %v", err)
	}
	waitIdle(t, b, 30*time.Second)
	if ids, _ := recordedIDs(t, rec); len(ids) != 5 {
		t.Errorf("delivered %d statements recorded on B, want 5", len(ids))
	}
	if err := a.RemoveOrg(ctx, "globex"); err != nil {
		t.Fatalf("RemoveOrg on A: %v", err)
	}
	eventually(t, 30*time.Second, "B to stop serving the organization removed on A", func() bool {
		_, err := b.Org("globex")
		return errors.Is(err, ErrOrgUnknown)
	})
	if err := b.Record(ctx, "globex", statement("globex", 9)); !errors.Is(err, ErrOrgUnknown) {
		t.Errorf("Record on B after the removal = %v, want ErrOrgUnknown", err)
	}
}

// TestSharedRegistryIgnoresItsOwnOlderWrites saves an integration twice
// and feeds the first value back as the watch would deliver it late: it
// is recognised as this instance's own and not applied, while a value
// written by another instance is.
func TestSharedRegistryIgnoresItsOwnOlderWrites(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	useJetStream(&cfg, jstest.Run(t, jstest.Options{}).URL())
	h := newHost(t, cfg)
	hr, ok := h.reg.(*sharedRegistry)
	if !ok {
		t.Fatalf("registry of a jetstream host is %T, want *sharedRegistry", h.reg)
	}
	// Two registries on the host's bucket, neither watched by the host.
	r, other := &sharedRegistry{b: hr.b, box: hr.box}, &sharedRegistry{b: hr.b, box: hr.box}
	ctx := context.Background()
	state := func(label string) registry.State {
		s := registry.State{Integrations: map[string][]registry.Saved{}, Orgs: map[string]registry.Org{}}
		return s.WithIntegration("acme", registry.Saved{Integration: registry.Integration{ID: "m", Label: label,
			Plugin: "mock", Config: map[string]any{}}, Saved: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	}
	read := func() []byte {
		v, found, err := r.b.Load(ctx, intKey("acme", "m"))
		if err != nil || !found {
			t.Fatalf("Load = %v, %v", found, err)
		}
		return v
	}
	if err := r.Save(ctx, state("first")); err != nil {
		t.Fatal(err)
	}
	first := read()
	if err := r.Save(ctx, state("second")); err != nil {
		t.Fatal(err)
	}
	var s registry.State
	if fresh, err := r.decode(intKey("acme", "m"), first, &s); err != nil || fresh {
		t.Errorf("a late echo of this instance's first write: fresh %v, %v; want it ignored", fresh, err)
	}
	if err := other.Save(ctx, state("third")); err != nil {
		t.Fatal(err)
	}
	if fresh, err := r.decode(intKey("acme", "m"), read(), &s); err != nil || !fresh {
		t.Errorf("a write of another instance: fresh %v, %v; want it applied", fresh, err)
	}
	if got := s.Integrations["acme"]; len(got) != 1 || got[0].Label != "third" {
		t.Errorf("decoded %+v, want the label of the other instance's write", got)
	}
}

// TestBackendDeadLettersOfRecreatedIntegration removes an integration and
// saves one with the same id: its new queue starts its positions over, and
// the same statement refused at the same position again is a second dead
// letter with an id of its own, so that purging the first leaves it.
func TestBackendDeadLettersOfRecreatedIntegration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		rec := filepath.Join(t.TempDir(), "r.ndjson")
		victim := statement("acme", 1)
		refusing := Integration{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{"record_file": rec,
			"reject": []any{map[string]any{"id": victim.ID, "message": "statement conflicts with stored data"}}}}
		addOrg(&cfg, "acme")
		h := newHost(t, cfg)
		ctx := context.Background()
		var ids []string
		for round := range 2 {
			if _, err := h.SaveIntegration(ctx, "acme", refusing, SaveOptions{}); err != nil {
				t.Fatalf("round %d: SaveIntegration: %v", round, err)
			}
			if err := h.Record(ctx, "acme", victim); err != nil {
				t.Fatalf("round %d: Record: %v", round, err)
			}
			waitIdle(t, h, 30*time.Second)
			dls, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(dls) != round+1 {
				t.Fatalf("round %d: %d dead letters, want %d: %+v", round, len(dls), round+1, dls)
			}
			ids = ids[:0]
			for _, d := range dls {
				if d.StatementID != victim.ID || d.Class != DeadLetterRejected {
					t.Errorf("round %d: dead letter %+v, want the victim rejected", round, d)
				}
				ids = append(ids, d.ID)
			}
			if round == 0 {
				if err := h.RemoveIntegration(ctx, "acme", "mock"); err != nil {
					t.Fatalf("RemoveIntegration: %v", err)
				}
			}
		}
		if ids[0] == ids[1] {
			t.Fatalf("both dead letters have id %s", ids[0])
		}
		n, err := h.PurgeDeadLetters(ctx, "acme", DeadLetterFilter{IDs: ids[:1]})
		if err != nil || n != 1 {
			t.Fatalf("PurgeDeadLetters(%s) = %d, %v; want 1", ids[0], n, err)
		}
		left, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 || left[0].ID != ids[1] {
			t.Errorf("dead letters left = %+v, want the one with id %s", left, ids[1])
		}
	})
}
