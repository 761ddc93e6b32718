package host

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/registry"
)

// deadCounts is the count store of a killed instance: nothing it saves
// reaches the servers any more.
type deadCounts struct{ registry.CountStore }

func (deadCounts) SaveCounts(context.Context, map[string]map[string]registry.Totals) error {
	return errors.New("the instance was killed")
}

// killCounts stops h as a killed instance would leave its counts: its
// last saved counts and its live status record stay on the servers, and
// nothing is saved at shutdown.
func killCounts(t *testing.T, h *Host) {
	t.Helper()
	h.countsMu.Lock()
	h.counts = deadCounts{h.counts}
	h.countsMu.Unlock()
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// savedBy returns the counts of an integration each instance saved, as h
// sees them in the bucket.
func savedBy(h *Host, orgID, id string) map[string]registry.Totals {
	s := h.shCounts
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]registry.Totals{}
	for inst, t := range s.byRef[countRef{orgID, id}] {
		out[inst] = t
	}
	return out
}

// storedCounts lists the integrations that have counts on the servers.
func storedCounts(t *testing.T, h *Host) map[countRef]int {
	t.Helper()
	all, err := h.shCounts.c.List(context.Background())
	if err != nil {
		t.Fatalf("list counts: %v", err)
	}
	out := map[countRef]int{}
	for _, v := range all {
		var r countRecord
		if err := json.Unmarshal(v, &r); err != nil {
			t.Fatalf("saved counts are not JSON: %v", err)
		}
		out[countRef{r.Org, r.Integration}]++
	}
	return out
}

// settled waits until h has finished applying what it received from
// other instances.
func settled(h *Host) {
	h.admin.Lock()
	h.admin.Unlock() //nolint:staticcheck // an empty critical section: waiting for the holder
}

// TestSharedCountsSurviveAKill delivers through instance A, kills it (its
// counts since its last save and at shutdown are lost, as in a kill), and
// checks that B's Status keeps A's counts once A's live record expired,
// that A started again is not counted twice, and that removing an
// integration or organization deletes its counts on the servers so that
// one created again with the same id counts from zero everywhere.
func TestSharedCountsSurviveAKill(t *testing.T) {
	t.Parallel()
	url := jstest.Run(t, jstest.Options{})
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	config := func() Config {
		cfg := testConfig(t)
		useJetStream(&cfg, url.URL())
		cfg.Secrets.Key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // the same on every instance
		addOrg(&cfg, "acme", mockSink("mock", rec, nil))
		addOrg(&cfg, "beacon", mockSink("mock", rec, nil))
		return cfg
	}
	// A saves its counts only with its status records (its schedule is
	// too slow to matter), B on a short schedule too.
	slow := func(h *Host) { h.countsEvery = time.Hour }
	fast := func(h *Host) { h.countsEvery = 50 * time.Millisecond }
	ctx := context.Background()
	cfgA, cfgB := config(), config()
	delivered := func(h *Host, org string) int64 { return sinkStatus(t, h, org, "mock").Delivered }

	a := newHost(t, cfgA, slow)
	aID := a.shCounts.instance
	for _, org := range []string{"acme", "beacon"} {
		if err := a.Record(ctx, org, statements(org, 0, 30)...); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, a, 30*time.Second)
	eventually(t, 30*time.Second, "A to publish its status records", func() bool {
		a.peers.mu.Lock()
		defer a.peers.mu.Unlock()
		return a.peers.mine["acme/mock"].Delivered == 30 && a.peers.mine["beacon/mock"].Delivered == 30
	})
	eventually(t, 30*time.Second, "A's counts saved with its status records to come back through its watch", func() bool {
		return savedBy(a, "acme", "mock")[aID].Delivered == 30 && savedBy(a, "beacon", "mock")[aID].Delivered == 30
	})
	killCounts(t, a)

	b := newHost(t, cfgB, fast)
	bID := b.shCounts.instance
	if aID == bID {
		t.Fatalf("A and B have the same instance id %q", aID)
	}
	eventually(t, 30*time.Second, "B to see A's live status record", func() bool {
		b.peers.mu.Lock()
		defer b.peers.mu.Unlock()
		_, ok := b.peers.others["acme/mock"][aID]
		return ok
	})
	if got := delivered(b, "acme"); got != 30 {
		t.Errorf("B shows %d delivered with A's record live, want 30 (A's saved counts and record are one instance's)", got)
	}
	// A's record expires, as it does statusTTL after its instance died.
	if err := b.peers.b.Delete(ctx, "acme/mock/"+aID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "B to see A's record expire", func() bool {
		b.peers.mu.Lock()
		defer b.peers.mu.Unlock()
		_, ok := b.peers.others["acme/mock"][aID]
		return !ok
	})
	if got := delivered(b, "acme"); got != 30 {
		t.Errorf("B shows %d delivered after A died and its record expired, want A's 30", got)
	}

	if err := b.Record(ctx, "acme", statements("acme", 30, 20)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, b, 30*time.Second)
	if got := delivered(b, "acme"); got != 50 {
		t.Errorf("B shows %d delivered, want A's 30 and its own 20", got)
	}
	eventually(t, 30*time.Second, "B to save its counts", func() bool {
		return savedBy(b, "acme", "mock")[bID].Delivered == 20
	})

	// A starts again under its id, from its saved counts.
	a2 := newHost(t, cfgA, slow)
	if a2.shCounts.instance != aID {
		t.Fatalf("A started again as %q, want its former id %q", a2.shCounts.instance, aID)
	}
	if diff := cmp.Diff(map[string]registry.Totals{aID: {Delivered: 30}, bID: {Delivered: 20}}, savedBy(a2, "acme", "mock")); diff != "" {
		t.Errorf("counts A sees saved at its start (-want +got):\n%s", diff)
	}
	recordOf := func(h *Host, inst string) int64 {
		h.peers.mu.Lock()
		defer h.peers.mu.Unlock()
		return h.peers.others["acme/mock"][inst].Delivered
	}
	eventually(t, 30*time.Second, "A and B to see each other's live status records", func() bool {
		return recordOf(a2, bID) == 20 && recordOf(b, aID) == 30
	})
	for name, h := range map[string]*Host{"A": a2, "B": b} {
		if got := delivered(h, "acme"); got != 50 {
			t.Errorf("%s shows %d delivered after A started again, want 50", name, got)
		}
	}

	// Removing the integration deletes every instance's counts, and
	// neither instance saves them again.
	if err := a2.RemoveIntegration(ctx, "acme", "mock"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "B to apply the removal", func() bool {
		list, err := b.Integrations("acme")
		return err == nil && len(list) == 0
	})
	settled(b)
	a2.saveCounts(ctx)
	b.saveCounts(ctx)
	if n := storedCounts(t, a2)[countRef{"acme", "mock"}]; n != 0 {
		t.Errorf("%d counts of the removed integration left on the servers, want none", n)
	}
	in := Integration{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{"record_file": rec}}
	if _, err := b.SaveIntegration(ctx, "acme", in, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "A to apply the new integration", func() bool {
		list, err := a2.Integrations("acme")
		return err == nil && len(list) == 1
	})
	// A record or count saved by an instance in the moment before it
	// applied the removal is deleted when it applies it: the sums come
	// back to zero well before a record would expire by itself
	// (statusTTL).
	for name, h := range map[string]*Host{"A": a2, "B": b} {
		eventually(t, statusTTL/2, name+" to show no deliveries for the integration created again", func() bool {
			return delivered(h, "acme") == 0
		})
	}
	if err := a2.Record(ctx, "acme", statements("acme", 100, 5)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, a2, 30*time.Second)
	for name, h := range map[string]*Host{"A": a2, "B": b} {
		eventually(t, 30*time.Second, name+" to show the 5 deliveries of the new integration", func() bool {
			return delivered(h, "acme") == 5
		})
	}

	// Removing an organization deletes the counts of all its
	// integrations, A's (dead) ones included.
	if n := storedCounts(t, b)[countRef{"beacon", "mock"}]; n != 1 {
		t.Fatalf("beacon has %d counts on the servers before its removal, want A's", n)
	}
	if err := b.RemoveOrg(ctx, "beacon"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "A to apply the removal of beacon", func() bool {
		_, err := a2.Status("beacon")
		return errors.Is(err, ErrOrgUnknown)
	})
	settled(a2)
	a2.saveCounts(ctx)
	b.saveCounts(ctx)
	if n := storedCounts(t, b)[countRef{"beacon", "mock"}]; n != 0 {
		t.Errorf("%d counts of the removed organization left on the servers, want none", n)
	}
}

func TestInstanceID(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	first, err := instanceID(cfg)
	if err != nil || first == "" {
		t.Fatalf("instanceID = %q, %v", first, err)
	}
	again, err := instanceID(cfg)
	if err != nil || again != first {
		t.Errorf("instanceID at the next start = %q, %v; want %q", again, err, first)
	}
	other := cfg
	other.DataDir = t.TempDir()
	if id, _ := instanceID(other); id == first {
		t.Errorf("two data directories have the same instance id %q", id)
	}
	named := cfg
	named.Queue.NATS.Instance = "web-1"
	if id, err := instanceID(named); err != nil || id != "web-1" {
		t.Errorf("instanceID with queue.nats.instance = %q, %v; want web-1", id, err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, instanceFile), []byte("kept-id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, _ := instanceID(cfg); id != "kept-id" {
		t.Errorf("instanceID = %q, want the id kept in %s", id, instanceFile)
	}
}
