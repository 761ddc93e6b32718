package normalize

import (
	"context"
	"slices"
	"sync"
)

// StateStore persists the per-attempt state of SCORM normalization, so that
// a restart neither re-emits statements nor forgets what was emitted. Keys
// are short strings of ASCII letters, digits and "-", safe as file names.
//
// Implementations must be safe for concurrent use. The Normalizer never
// calls Load and Save concurrently for the same key, and calls Save only
// after the whole event was normalized and validated.
type StateStore interface {
	// Load returns the state saved under key, and false when there is
	// none.
	Load(ctx context.Context, key string) (state []byte, found bool, err error)
	// Save stores state under key, replacing what was there. The store
	// must not keep state after Save returns; the caller may reuse it.
	Save(ctx context.Context, key string, state []byte) error
}

// MemoryState is a StateStore in memory, for tests and for embedders that
// accept losing SCORM state on restart. It is safe for concurrent use.
type MemoryState struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ StateStore = (*MemoryState)(nil)

// NewMemoryState returns an empty MemoryState.
func NewMemoryState() *MemoryState {
	return &MemoryState{m: make(map[string][]byte)}
}

// Load returns a copy of the state saved under key.
func (m *MemoryState) Load(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.m[key]
	return slices.Clone(b), ok, nil
}

// Save stores a copy of state under key.
func (m *MemoryState) Save(_ context.Context, key string, state []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[key] = slices.Clone(state)
	return nil
}

// Keys returns the keys that hold state, sorted.
func (m *MemoryState) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.m))
	for k := range m.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
