package mock_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sinks/mock/mocktest"
)

// buildPlugin builds the mock plugin into a temporary directory.
func buildPlugin(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	bin := filepath.Join(t.TempDir(), "mock")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/learningflow/lrsbridge/plugins/mock").CombinedOutput()
	if err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	return bin
}

func launch(t *testing.T, bin string) *sdk.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(proc.Kill)
	return proc
}

// TestPluginCrashOnBatch runs the mock plugin as a real process: the
// scripted crash kills it on the third batch, the host sees
// ErrPluginExited, and a restarted plugin with the same recording carries on
// without crashing again.
func TestPluginCrashOnBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a plugin")
	}
	t.Parallel()
	bin := buildPlugin(t)
	rec := filepath.Join(t.TempDir(), "rec.ndjson")
	cfg := map[string]any{"record_file": rec, "crash_on_batch": float64(3)}
	batches := [][]sdk.Statement{sinktest.Statements(2), sinktest.Statements(3), sinktest.Statements(1), sinktest.Statements(2)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	proc := launch(t, bin)
	sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/mock", Org: "acme", Config: cfg})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	for i, b := range batches[:2] {
		if resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: b}); err != nil || resp.Verdicts != nil {
			t.Fatalf("batch %d: %v %+v", i+1, err, resp.Verdicts)
		}
	}
	// The host can read the recording while the plugin runs.
	if got := mocktest.Wait(t, rec, 5, 10*time.Second); len(got) != 5 {
		t.Errorf("recording holds %d statements before the crash, want 5", len(got))
	}
	if _, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: batches[2]}); !errors.Is(err, sdk.ErrPluginExited) {
		t.Fatalf("batch 3 = %v, want ErrPluginExited", err)
	}
	select {
	case <-proc.Exited():
	case <-ctx.Done():
		t.Fatal("plugin process did not exit")
	}

	proc = launch(t, bin)
	sink, err = proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/mock", Org: "acme", Config: cfg})
	if err != nil {
		t.Fatalf("Configure after restart: %v", err)
	}
	for i, b := range batches[2:] {
		if resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: b}); err != nil || resp.Verdicts != nil {
			t.Fatalf("batch %d after restart: %v %+v", i+3, err, resp.Verdicts)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	var want []json.RawMessage
	for _, b := range batches {
		for _, st := range b {
			want = append(want, st.JSON)
		}
	}
	mocktest.AssertStatements(t, rec, want)
}
