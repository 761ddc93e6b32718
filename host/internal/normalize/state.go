package normalize

import (
	"context"
	"slices"
	"sync"
)

// StateStore persists the per-attempt state of SCORM normalization, so that
// a restart neither re-emits statements nor forgets what was emitted. State
// belongs to an organization (org is the event's organization id, any
// string), so that a store can remove or archive what an organization
// leaves when it is removed; keys are short strings of ASCII letters,
// digits and "-", safe as file names, unique within an organization.
//
// Implementations must be safe for concurrent use. The Normalizer never
// calls Load and Save concurrently for the same org and key, and calls
// Save only after the whole event was normalized and validated.
type StateStore interface {
	// Load returns the state saved under key for org, and false when
	// there is none.
	Load(ctx context.Context, org, key string) (state []byte, found bool, err error)
	// Save stores state under key for org, replacing what was there. The
	// store must not keep state after Save returns; the caller may reuse
	// it.
	Save(ctx context.Context, org, key string, state []byte) error
}

// MemoryState is a StateStore in memory, for tests and for embedders that
// accept losing SCORM state on restart. It is safe for concurrent use.
type MemoryState struct {
	mu sync.Mutex
	m  map[stateKey][]byte
}

// stateKey is where MemoryState keeps one attempt's state.
type stateKey struct{ org, key string }

var _ StateStore = (*MemoryState)(nil)

// NewMemoryState returns an empty MemoryState.
func NewMemoryState() *MemoryState {
	return &MemoryState{m: make(map[stateKey][]byte)}
}

// Load returns a copy of the state saved under key for org.
func (m *MemoryState) Load(_ context.Context, org, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.m[stateKey{org, key}]
	return slices.Clone(b), ok, nil
}

// Save stores a copy of state under key for org.
func (m *MemoryState) Save(_ context.Context, org, key string, state []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[stateKey{org, key}] = slices.Clone(state)
	return nil
}

// RemoveOrg forgets every state of org.
func (m *MemoryState) RemoveOrg(org string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.m {
		if k.org == org {
			delete(m.m, k)
		}
	}
}

// Keys returns the keys that hold state for org, sorted.
func (m *MemoryState) Keys(org string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.m))
	for k := range m.m {
		if k.org == org {
			keys = append(keys, k.key)
		}
	}
	slices.Sort(keys)
	return keys
}
