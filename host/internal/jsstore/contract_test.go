package jsstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue/queuetest"
)

var streamSeq atomic.Int64

// testConfig returns a configuration for a fresh stream (and subject
// prefix) on the given servers, so that tests can share servers.
func testConfig(url string) jsstore.Config {
	n := streamSeq.Add(1)
	cfg := jsstore.DefaultConfig()
	cfg.URL = url
	cfg.Replicas = 1
	cfg.Stream = fmt.Sprintf("T%d", n)
	cfg.SubjectPrefix = fmt.Sprintf("t%d", n)
	cfg.PinnedTTL = 2 * time.Second
	cfg.AckWait = time.Minute
	cfg.ConnectTimeout = 5 * time.Second
	cfg.MaxQueueMessages = 0
	cfg.MaxTotalBytes = 64 << 20
	return cfg
}

func openStore(t testing.TB, cfg jsstore.Config) *jsstore.Store {
	t.Helper()
	s, err := jsstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the queue contract against JetStream on one embedded
// server.
func TestContract(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	queuetest.Run(t, queuetest.Backend{
		New: func(t testing.TB, lim queuetest.Limits) func() (queuetest.Store, error) {
			cfg := testConfig(srv.URL())
			cfg.MaxQueueMessages = int64(lim.QueueItems)
			return func() (queuetest.Store, error) {
				return jsstore.Open(context.Background(), cfg)
			}
		},
	})
}
