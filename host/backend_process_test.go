package host

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// sharedChildEnv makes the test binary a host process on the jetstream
// backend for TestSharedHostKilledHandsOverItsSavedIntegration.
const sharedChildEnv = "LRSBRIDGE_HOST_TEST_SHARED_CHILD"

// sharedConfig is the configuration of every host of the process test:
// the jetstream backend on url, one organization without configured
// integrations, the same secrets key.
func sharedConfig(dataDir, pluginDir, url string) Config {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Plugins.Dir = dataDir, pluginDir
	cfg.Egress.AllowCIDRs, cfg.Egress.AllowHTTP = []string{"127.0.0.0/8"}, true
	cfg.Delivery.BackoffInitial, cfg.Delivery.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
	cfg.Delivery.Parallel = 1 // recording order across the takeover
	cfg.Secrets.Key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	useJetStream(&cfg, url)
	cfg.Orgs = map[string]OrgConfig{}
	addOrg(&cfg, "acme")
	return cfg
}

// runSharedChild saves an lrs integration for acme, prints "saved", then
// records statements one by one and prints each id once Record returned.
func runSharedChild() int {
	cfg := sharedConfig(os.Getenv("CHILD_DATA_DIR"), os.Getenv("CHILD_PLUGINS"), os.Getenv("CHILD_NATS"))
	h, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	ctx := context.Background()
	in := Integration{ID: "lrs", Label: "LRS", Plugin: "lrs", Config: map[string]any{
		"xapi_version": "1.0.3", "endpoint": os.Getenv("CHILD_LRS"), "key": "k", "secret": "s"}}
	if _, err := h.SaveIntegration(ctx, "acme", in, SaveOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "saved")
	out.Flush()
	for i := 0; ; i++ {
		st := statement("acme", i)
		if err := h.Record(ctx, "acme", st); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 5
		}
		fmt.Fprintln(out, st.ID)
		out.Flush()
	}
}

// TestSharedHostKilledHandsOverItsSavedIntegration saves an integration
// through host A (a process), records through A, kills A with SIGKILL
// mid-stream, and checks that host B delivers every statement A had
// acknowledged, and goes on delivering the integration saved through A.
func TestSharedHostKilledHandsOverItsSavedIntegration(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	url := jstest.Run(t, jstest.Options{}).URL()
	lrs, endpoint := newLRS(t)
	b := newHost(t, sharedConfig(t.TempDir(), plugins(t), url))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sharedChildEnv+"=1", "CHILD_DATA_DIR="+t.TempDir(), "CHILD_PLUGINS="+plugins(t),
		"CHILD_NATS="+url, "CHILD_LRS="+endpoint)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "saved" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("host A did not save the integration (first line %q)", sc.Text())
	}
	var durable []string
	limit := 100 + rand.IntN(100)
	for len(durable) < limit && sc.Scan() {
		durable = append(durable, sc.Text())
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // ids printed before the kill took effect
		durable = append(durable, sc.Text())
	}
	_ = cmd.Wait()
	if len(durable) < limit {
		t.Fatalf("host A printed %d ids before it ended, want %d", len(durable), limit)
	}

	eventually(t, 30*time.Second, "B to apply the integration saved through A", func() bool {
		list, err := b.Integrations("acme")
		return err == nil && len(list) == 1 && list[0].ID == "lrs"
	})
	after := statements("acme", 1_000_000, 5)
	if err := b.Record(context.Background(), "acme", after...); err != nil {
		t.Fatalf("Record on B: %v", err)
	}
	waitIdle(t, b, 60*time.Second)
	stored := lrs.IDs()
	for _, id := range durable {
		if !slices.Contains(stored, id) {
			t.Errorf("statement %s was acknowledged by A before the kill but never reached the LRS", id)
		}
	}
	for _, st := range after {
		if !slices.Contains(stored, st.ID) {
			t.Errorf("statement %s recorded on B after the kill never reached the LRS", st.ID)
		}
	}
	// The LRS stores a statement once, at its first delivery: with
	// delivery.parallel 1 first deliveries follow the recording order.
	index := map[string]int{}
	for i := range len(durable) + 100 { // A may have recorded a few it did not print
		index[statement("acme", i).ID] = i
	}
	for i, st := range after {
		index[st.ID] = 1_000_000 + i
	}
	prev := -1
	for _, id := range stored {
		i, ok := index[id]
		if !ok {
			t.Errorf("the LRS holds %s, which was never recorded", id)
			continue
		}
		if i < prev {
			t.Errorf("statement %d was first delivered after statement %d: not in recording order", i, prev)
		}
		prev = i
	}
	t.Logf("%d statements acknowledged by A before the kill; %d distinct in the LRS", len(durable), len(stored))
}
