package hosttest

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host"
)

// ShutdownTimeout is how long the cleanup of New waits for the host to
// drain.
const ShutdownTimeout = 10 * time.Second

// Config returns a configuration for tests, to change further and pass to
// New: host.DefaultConfig with a temporary data directory of t, plugins
// from pluginDir (Plugins.Dir), no fsync (queue.sync none), fast delivery
// (5 ms linger, retries from 10 ms to 100 ms, 10 s per delivery), egress to
// loopback over plain HTTP allowed (so that an LRS of StartLRS is
// reachable), a fixed secrets key and no organizations. The plugin policy
// stays the production one: tests that save mock or archive integrations
// at run time allow them in Plugins.AllowRuntime.
func Config(t testing.TB, pluginDir string) host.Config {
	t.Helper()
	cfg := host.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Plugins.Dir = pluginDir
	cfg.Queue.Sync = host.SyncNone
	cfg.Delivery.Linger = 5 * time.Millisecond
	cfg.Delivery.BackoffInitial = 10 * time.Millisecond
	cfg.Delivery.BackoffMax = 100 * time.Millisecond
	cfg.Delivery.Timeout = 10 * time.Second
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	cfg.Egress.AllowHTTP = true
	cfg.Secrets.Key = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	cfg.Orgs = map[string]host.OrgConfig{}
	return cfg
}

// New starts a host with cfg and opts and shuts it down when the test ends
// (waiting at most ShutdownTimeout; a test may shut it down itself
// before). It fails the test when the host does not start.
func New(t testing.TB, cfg host.Config, opts ...host.Option) *host.Host {
	t.Helper()
	h, err := host.New(cfg, opts...)
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return h
}
