package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// TestLoadedPlugin builds this plugin, loads it pinned to its checksum the
// way the host does and delivers a batch through it; a wrong checksum is
// refused.
func TestLoadedPlugin(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "custom-sink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var received atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	wrong := sha256.Sum256([]byte("another binary"))
	if _, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin, SHA256: wrong[:]}); !errors.Is(err, sdk.ErrChecksumMismatch) {
		t.Fatalf("Launch with the checksum of another binary = %v; want ErrChecksumMismatch", err)
	}
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin, SHA256: sum[:]})
	if err != nil {
		t.Fatalf("Launch = %v", err)
	}
	t.Cleanup(proc.Kill)
	sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{
		Instance: "acme/webhook-1",
		Org:      "acme",
		Config:   map[string]any{"url": srv.URL},
		Egress:   sdk.EgressPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowHTTP: true},
	})
	if err != nil {
		t.Fatalf("Configure = %v", err)
	}
	resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: sinktest.Statements(5)})
	if err != nil || resp.Verdicts != nil {
		t.Fatalf("Deliver = %+v, %v; want all delivered", resp, err)
	}
	if got := received.Load(); got != 1 {
		t.Errorf("receiver got %d requests; want 1", got)
	}
}
