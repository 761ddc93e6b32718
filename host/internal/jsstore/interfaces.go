package jsstore

import (
	"context"

	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// QueueStore is what the host needs of a queue engine; the file store
// (queue.Store) and Store both implement it. Safe for concurrent use.
type QueueStore interface {
	// Queue opens or creates the queue of one integration.
	Queue(org, sink string) (queue.Queue, error)
	// Remove deletes a queue and its pending statements.
	Remove(org, sink string) error
	// Queues lists the queues that exist, for recovery at start.
	Queues() []queue.Key
	// Close closes every queue.
	Close() error
}

// DeadLetterStore is what the host needs of a dead-letter store shared by
// its instances. Methods are safe for concurrent use and may be called on
// any instance: Add on the delivering one before it acknowledges the
// statements, List, Counts and Remove (for replay and purge) on whichever
// instance an administrator reaches. Replay is: List, append to the queue,
// then Remove, so a crash in between leaves the statements queued and
// listed, never lost.
type DeadLetterStore interface {
	// Add stores dead letters of org and returns once they are stored.
	Add(ctx context.Context, org string, list []DeadLetter) error
	// List returns dead letters of org (of one integration when sink is
	// not empty), oldest first, only the newest limit when limit > 0.
	List(ctx context.Context, org, sink string, limit int) ([]DeadLetter, error)
	// Remove deletes the dead letters of org matching sink and ids (each
	// empty matches all) and returns them.
	Remove(ctx context.Context, org, sink string, ids []string) ([]DeadLetter, error)
	// Counts returns the number of dead letters per integration of org.
	Counts(ctx context.Context, org string) (map[string]int, error)
}

// StateStore keeps small values by key: saved settings and the live
// status the delivering instance publishes for each integration. Safe for
// concurrent use.
type StateStore interface {
	// Load returns the value of key; found is false when there is none.
	Load(ctx context.Context, key string) (value []byte, found bool, err error)
	// Save stores value under key once it is stored on the servers.
	Save(ctx context.Context, key string, value []byte) error
}

// SettingsStore keeps organizations and integrations saved at run time so
// that every instance applies them: Watch delivers the current values and
// then every change, in order. Safe for concurrent use; Watch calls fn on
// one goroutine until ctx ends.
type SettingsStore interface {
	StateStore
	// Delete removes key (removing what is absent is not an error).
	Delete(ctx context.Context, key string) error
	// Watch calls fn with every current value, then with every change.
	Watch(ctx context.Context, fn func(Change)) error
}

var (
	_ QueueStore      = (*Store)(nil)
	_ QueueStore      = (*queue.Store)(nil)
	_ DeadLetterStore = (*DeadLetters)(nil)
	_ StateStore      = (*Bucket)(nil)
	_ SettingsStore   = (*Bucket)(nil)
)
