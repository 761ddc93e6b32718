package host

import (
	"context"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/statefile"
)

// The host keeps five kinds of data, each behind a small interface so that
// a backend shared by several hosts can replace the files under data_dir:
//
//   - queues (queueStore): one durable FIFO per integration;
//   - dead letters (deadLetterStore): statements set aside, per
//     organization;
//   - the registry (registryStore): organizations and integrations saved
//     at run time, secrets sealed;
//   - normalizer state (stateStore): SCORM attempts, per organization;
//   - delivery counts (registry.CountStore): totals per integration.
//
// Every implementation must be safe for concurrent use; the call order
// each method may rely on is stated on it.

// queueStore is what the host needs of a queue engine. The embedded
// file-backed store (host/internal/queue) implements it.
type queueStore interface {
	// Queue opens or creates the queue of one integration. Calls with the
	// same key return the same open queue until it is closed or removed.
	// An error wrapping queue.ErrCorrupt says the queue's data is damaged:
	// the host reports the integration as StateQueueError and carries on.
	Queue(org, sink string) (queue.Queue, error)
	// Remove closes and deletes a queue. The host calls it only after
	// draining the queue, with no producer or consumer left.
	Remove(org, sink string) error
	// Queues lists the queues that exist, for recovery at start.
	Queues() []queue.Key
	// Close closes every queue; it is called once, last.
	Close() error
}

// deadLetterStore keeps what could not be delivered, per organization.
// Add is called concurrently by every worker and must be durable when it
// returns nil (the statements leave their queue right after); List,
// Remove and Counts are called by the embedder's requests at any time.
// Errors name the organization and never quote a statement.
type deadLetterStore interface {
	delivery.DeadLetters
	// List returns the dead letters of org matching f, oldest first.
	List(ctx context.Context, org string, f deadletter.Filter) ([]deadletter.Letter, error)
	// Replay hands the dead letters of org matching f to put in chunks
	// bounded by c, and removes durably the ones put reports as done
	// before it reads the next chunk; it returns how many it removed.
	Replay(ctx context.Context, org string, f deadletter.Filter, c deadletter.Chunk, put func([]deadletter.Letter) (done []string, err error)) (int, error)
	// Remove deletes the dead letters of org matching f durably and
	// returns how many it deleted.
	Remove(ctx context.Context, org string, f deadletter.Filter) (int, error)
	// Archive moves every dead letter of org into the directory dir, so
	// that an organization created later with the same id starts without
	// them; it reports whether there was anything to move.
	Archive(ctx context.Context, org, dir string) (bool, error)
	// Counts returns the number of dead letters of org per integration;
	// it is called for every Status and must be cheap.
	Counts(ctx context.Context, org string) (map[string]int, error)
}

// stateStore keeps the normalizer's state (SCORM attempts) per
// organization. Archive is called once an organization is removed, after
// its last event was handled: it moves every state of org into the
// directory dir (or deletes it, for a backend without local files), so
// that an organization created later with the same id starts every
// attempt from scratch; it reports whether there was anything to move.
type stateStore interface {
	normalize.StateStore
	Archive(ctx context.Context, org, dir string) (bool, error)
}

// registryStore persists organizations and integrations saved at run
// time; see registry.Store for its contract.
type registryStore = registry.Store

var (
	_ queueStore          = (*queue.Store)(nil)
	_ deadLetterStore     = (*deadletter.Dir)(nil)
	_ registryStore       = (*registry.File)(nil)
	_ stateStore          = (*statefile.Dir)(nil)
	_ stateStore          = sharedState{}
	_ registry.CountStore = (*registry.CountsFile)(nil)
)
