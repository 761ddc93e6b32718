package archive_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// TestPluginKilled runs the archive plugin binary as the host does, kills it
// with SIGKILL while batches are in flight, several times, and checks that
// every batch the host saw delivered is archived exactly once and that the
// archive verifies.
func TestPluginKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a plugin")
	}
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	bin := filepath.Join(t.TempDir(), "archive")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/learningflow/lrsbridge/plugins/archive").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	startDay := time.Now().UTC().Format(time.DateOnly)
	cfg := map[string]any{"dir": dir, "rotate_bytes": float64(8192)}
	acked := make(map[string]bool)
	var resend []sdk.Statement
	for round := range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin})
		if err != nil {
			cancel()
			t.Fatalf("Launch: %v", err)
		}
		sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/archive", Org: "acme", Config: cfg})
		if err != nil {
			proc.Kill()
			cancel()
			t.Fatalf("Configure: %v", err)
		}
		victim, err := os.FindProcess(proc.Pid())
		if err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(10+rng.IntN(60)) * time.Millisecond
		killer := time.AfterFunc(delay, func() { victim.Kill() })
		batches := 0
		for {
			batch := resend
			if batch == nil {
				batch = sinktest.Statements(1 + rng.IntN(30))
			}
			resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: batch})
			if err != nil {
				if !errors.Is(err, sdk.ErrPluginExited) {
					t.Errorf("round %d: Deliver = %v, want ErrPluginExited once killed", round, err)
				}
				// Not acknowledged: the next process gets it again, as a
				// host would resend it.
				resend = batch
				break
			}
			for i, st := range batch {
				if resp.Verdicts != nil && resp.Verdicts[i].Err != nil {
					t.Fatalf("round %d: verdict for %s: %v", round, st.ID, resp.Verdicts[i].Err)
				}
				acked[st.ID] = true
			}
			resend = nil
			batches++
		}
		killer.Stop()
		<-proc.Exited()
		proc.Kill()
		cancel()
		t.Logf("round %d: killed after %v, %d batches acknowledged", round, delay, batches)
	}

	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	counts := make(map[string]int)
	err = r.Replay(context.Background(), "acme", time.Time{}, time.Time{}, func(rec archive.Record) error {
		counts[rec.ID]++
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	for id := range acked {
		if counts[id] != 1 {
			t.Errorf("acknowledged statement %s archived %d times, want 1", id, counts[id])
		}
	}
	if time.Now().UTC().Format(time.DateOnly) == startDay {
		for id, n := range counts {
			if n > 1 {
				t.Errorf("statement %s archived %d times", id, n)
			}
		}
	}
	if len(acked) == 0 {
		t.Error("no batch was acknowledged; the test proves nothing")
	}
}
