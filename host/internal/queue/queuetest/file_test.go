package queuetest_test

import (
	"testing"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/queue/queuetest"
)

// TestFileStore runs the contract against the embedded file store.
func TestFileStore(t *testing.T) {
	queuetest.Run(t, queuetest.Backend{
		ExactBytes: true,
		New: func(t testing.TB, lim queuetest.Limits) func() (queuetest.Store, error) {
			dir := t.TempDir()
			return func() (queuetest.Store, error) {
				return queue.Open(queue.Options{
					Dir:           dir,
					Sync:          queue.SyncNone,
					MaxQueueBytes: int64(lim.QueueItems * queuetest.ItemBytes),
				})
			}
		},
	})
}
