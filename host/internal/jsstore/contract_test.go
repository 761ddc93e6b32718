package jsstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
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
	queuetest.Run(t, backend(srv, func(*jsstore.Config) {}))
}

// backend opens stores on fresh streams of srv, configured by change.
func backend(srv *jstest.Cluster, change func(*jsstore.Config)) queuetest.Backend {
	return queuetest.Backend{
		New: func(t testing.TB, lim queuetest.Limits) func() (queuetest.Store, error) {
			cfg := testConfig(srv.URL())
			cfg.MaxQueueMessages = int64(lim.QueueItems)
			change(&cfg)
			return func() (queuetest.Store, error) {
				return jsstore.Open(context.Background(), cfg)
			}
		},
	}
}

// TestContractGroupCommit runs the queue contract with concurrent Appends
// waiting a moment to share messages (group_window), and without group
// commit (every Append its own message), next to the default in
// TestContract.
func TestContractGroupCommit(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	t.Run("window", func(t *testing.T) {
		queuetest.Run(t, backend(srv, func(cfg *jsstore.Config) {
			cfg.GroupWindow = time.Millisecond
		}))
	})
	t.Run("off", func(t *testing.T) {
		queuetest.Run(t, backend(srv, func(cfg *jsstore.Config) {
			cfg.GroupCommit = false
		}))
	})
}

// TestGroupCommitQuota appends three batches of four statements at once to
// a queue that holds ten: whether they share a message or not, two are
// stored whole and one is refused whole with the queue quota error.
func TestGroupCommitQuota(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	cfg.MaxQueueMessages = 10
	cfg.GroupCommit = true
	cfg.GroupWindow = 50 * time.Millisecond
	q, err := openStore(t, cfg).Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for p := range 3 {
		go func() {
			var items []queue.Item
			for i := range 4 {
				id := fmt.Sprintf("p%d-%d", p, i)
				items = append(items, queue.Item{ID: id, Data: []byte(`{}`)})
			}
			errs <- q.Append(context.Background(), items)
		}()
	}
	var ok, full int
	for range 3 {
		err := <-errs
		var qe *queue.QuotaError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &qe) && qe.Quota == queue.QuotaQueue && errors.Is(err, queue.ErrFull):
			full++
		default:
			t.Errorf("Append = %v, want nil or a queue quota error", err)
		}
	}
	if ok != 2 || full != 1 {
		t.Errorf("%d appends stored and %d refused, want 2 and 1", ok, full)
	}
	if got := q.Stats().Pending; got != 8 {
		t.Errorf("Pending = %d, want 8 (two whole batches)", got)
	}
}
