package lrsserver

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// ErrConflict is returned by StatementStore.AddStatements when a statement
// id is already stored in the namespace.
var ErrConflict = errors.New("a statement with this id is already stored")

// Record is a statement as a store keeps it.
type Record struct {
	// ID is the statement id in lower case.
	ID string
	// Seq orders the records of a namespace: it grows with every stored
	// statement. The store sets it.
	Seq int64
	// Stored is when the LRS stored the statement (millisecond precision).
	Stored time.Time
	// Received is the canonical encoding of the statement as the client
	// sent it, without stored, authority and version: a resend is compared
	// with it.
	Received []byte
	// Full is the canonical encoding of the statement as the LRS returns
	// it, with stored, authority, version and timestamp.
	Full []byte
	// Voided is true once a voiding statement targeted this one.
	Voided bool
	// Attachments holds the attachment data that came with the statement,
	// by SHA-256 hash (hex).
	Attachments map[string]Attachment

	// decoded is Full decoded, when the Server made the record; it is
	// never changed. A record read back from a journal has none.
	decoded *xapi.Statement
}

// Attachment is the data of one statement attachment.
type Attachment struct {
	// ContentType is the Content-Type of its part.
	ContentType string
	// Data is its content.
	Data []byte
}

// StatementStore keeps statements. Namespaces partition the data: nothing
// of one namespace is visible in another. Implementations are safe for
// concurrent use.
type StatementStore interface {
	// Statement returns the record with id (lower case) in ns.
	Statement(ctx context.Context, ns, id string) (Record, bool, error)
	// AddStatements stores recs (Seq unset) and marks the records whose
	// ids are in voids as voided, all or nothing. It returns ErrConflict,
	// storing nothing, when one of the ids is already stored.
	AddStatements(ctx context.Context, ns string, recs []Record, voids []string) error
	// Statements calls fn with the records of ns in Seq order until fn
	// returns false. fn must not call the store.
	Statements(ctx context.Context, ns string, fn func(*Record) bool) error
}

// Document kinds.
const (
	KindState           = "state"
	KindActivityProfile = "activity-profile"
	KindAgentProfile    = "agent-profile"
)

// DocKey names a document, or with ID empty the set of documents a list
// or a delete-all addresses.
type DocKey struct {
	// NS is the namespace.
	NS string
	// Kind is KindState, KindActivityProfile or KindAgentProfile.
	Kind string
	// ActivityID is the activity (state and activity profile).
	ActivityID string
	// Agent is the agent's identity key (state and agent profile); see
	// AgentKey.
	Agent string
	// Registration is the registration in lower case (state only; may be
	// empty).
	Registration string
	// ID is the stateId or profileId.
	ID string
}

// Set returns the key of the set k belongs to: k without its ID. The
// documents of a set are listed and deleted together.
func (k DocKey) Set() DocKey { k.ID = ""; return k }

// Document is a stored document.
type Document struct {
	// ContentType is the Content-Type it was stored with.
	ContentType string
	// Body is its content.
	Body []byte
	// Updated is when it last changed.
	Updated time.Time
}

// DocumentStore keeps state, activity profile and agent profile documents.
// Implementations are safe for concurrent use.
type DocumentStore interface {
	// UpdateDocument calls fn with the document at key (nil when there is
	// none) while holding it; fn returns the new document, nil to delete
	// it, or an error to leave it unchanged, which UpdateDocument returns.
	// fn must not call the store.
	UpdateDocument(ctx context.Context, key DocKey, fn func(cur *Document) (*Document, error)) error
	// Document returns the document at key.
	Document(ctx context.Context, key DocKey) (Document, bool, error)
	// DocumentIDs lists the ids of the documents of the set key.Set()
	// updated after since (any time when since is zero), sorted.
	DocumentIDs(ctx context.Context, key DocKey, since time.Time) ([]string, error)
	// DeleteDocuments deletes every document of the set key.Set().
	DeleteDocuments(ctx context.Context, key DocKey) error
}

// Store is a statement store and a document store.
type Store interface {
	StatementStore
	DocumentStore
}

// Change is one change to a MemoryStore, as its journal receives it.
// Exactly one of the groups of fields is set.
type Change struct {
	// NS, Records and Voids: statements added (AddStatements).
	NS      string   `json:"ns,omitempty"`
	Records []Record `json:"records,omitempty"`
	Voids   []string `json:"voids,omitempty"`
	// Key and Doc: a document put (Doc set) or deleted (Doc nil).
	Key *DocKey   `json:"key,omitempty"`
	Doc *Document `json:"doc,omitempty"`
	// DeleteSet: every document of a set deleted.
	DeleteSet *DocKey `json:"deleteSet,omitempty"`
	// ForgetBefore: the statements of every namespace stored before this
	// time forgotten (ForgetStatements).
	ForgetBefore *time.Time `json:"forgetBefore,omitempty"`
}

// MemoryStore is a Store in memory. With a journal it can be made durable:
// every change is handed to the journal, under the store's lock and before
// it is applied, and a change the journal refuses is not applied; Apply
// replays a journal into an empty store.
type MemoryStore struct {
	journal func(Change) error

	mu   sync.RWMutex
	ns   map[string]*memNS
	docs map[DocKey]*Document
}

var _ Store = (*MemoryStore)(nil)

type memNS struct {
	list []*Record
	byID map[string]int
	seq  int64
}

// NewMemoryStore returns an empty store. journal may be nil.
func NewMemoryStore(journal func(Change) error) *MemoryStore {
	return &MemoryStore{journal: journal, ns: make(map[string]*memNS), docs: make(map[DocKey]*Document)}
}

// Apply applies a change without handing it to the journal: it replays a
// journal.
func (m *MemoryStore) Apply(c Change) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apply(c)
}

func (m *MemoryStore) apply(c Change) {
	switch {
	case c.Key != nil:
		if c.Doc == nil {
			delete(m.docs, *c.Key)
		} else {
			d := *c.Doc
			m.docs[*c.Key] = &d
		}
	case c.DeleteSet != nil:
		for k := range m.docs {
			if k.Set() == c.DeleteSet.Set() {
				delete(m.docs, k)
			}
		}
	case c.ForgetBefore != nil:
		for name, n := range m.ns {
			keep := make([]*Record, 0, len(n.list))
			for _, r := range n.list {
				if !r.Stored.Before(*c.ForgetBefore) {
					keep = append(keep, r)
				}
			}
			if len(keep) == len(n.list) {
				continue
			}
			if len(keep) == 0 {
				delete(m.ns, name)
				continue
			}
			// A new list and index: readers may hold the old list.
			n2 := &memNS{list: keep, byID: make(map[string]int, len(keep)), seq: n.seq}
			for i, r := range keep {
				n2.byID[r.ID] = i
			}
			m.ns[name] = n2
		}
	default:
		n := m.ns[c.NS]
		if n == nil {
			n = &memNS{byID: make(map[string]int)}
			m.ns[c.NS] = n
		}
		for _, r := range c.Records {
			if _, dup := n.byID[r.ID]; dup {
				continue
			}
			n.seq++
			r.Seq = n.seq
			n.byID[r.ID] = len(n.list)
			rc := r
			n.list = append(n.list, &rc)
		}
		for _, id := range c.Voids {
			if i, ok := n.byID[id]; ok {
				// Replace the record: readers may hold the old one.
				v := *n.list[i]
				v.Voided = true
				n.list[i] = &v
			}
		}
	}
}

func (m *MemoryStore) change(c Change) error {
	if m.journal != nil {
		if err := m.journal(c); err != nil {
			return err
		}
	}
	m.apply(c)
	return nil
}

// Statement implements StatementStore.
func (m *MemoryStore) Statement(_ context.Context, ns, id string) (Record, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.ns[ns]
	if n == nil {
		return Record{}, false, nil
	}
	i, ok := n.byID[strings.ToLower(id)]
	if !ok {
		return Record{}, false, nil
	}
	return *n.list[i], true, nil
}

// AddStatements implements StatementStore.
func (m *MemoryStore) AddStatements(_ context.Context, ns string, recs []Record, voids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.ns[ns]; n != nil {
		for _, r := range recs {
			if _, dup := n.byID[r.ID]; dup {
				return ErrConflict
			}
		}
	}
	return m.change(Change{NS: ns, Records: recs, Voids: voids})
}

// Statements implements StatementStore.
func (m *MemoryStore) Statements(_ context.Context, ns string, fn func(*Record) bool) error {
	m.mu.RLock()
	n := m.ns[ns]
	var list []*Record
	if n != nil {
		list = n.list[:len(n.list):len(n.list)]
	}
	m.mu.RUnlock()
	for _, r := range list {
		if !fn(r) {
			break
		}
	}
	return nil
}

// ForgetStatements forgets the statements of every namespace stored
// before t and returns how many it forgot. It is journaled (as a
// ForgetBefore change) only when it forgets some. A forgotten statement is
// gone: reads miss it, and a statement sent again under its id is stored
// as new. Documents are kept.
func (m *MemoryStore) ForgetStatements(t time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ns := range m.ns {
		for _, r := range ns.list {
			if r.Stored.Before(t) {
				n++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	t = t.UTC()
	if err := m.change(Change{ForgetBefore: &t}); err != nil {
		return 0, err
	}
	return n, nil
}

// Len returns the number of statements stored in ns.
func (m *MemoryStore) Len(ns string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if n := m.ns[ns]; n != nil {
		return len(n.list)
	}
	return 0
}

// compactChunk bounds the statements of one Change that Compact hands
// out, so that a journal's lines stay of a moderate size.
const compactChunk = 1000

// Compact calls rewrite with the store's content as a sequence of changes
// that, applied in order to an empty store, rebuild it: the statements of
// each namespace in their order (voided ones marked so), in chunks, then
// every document. It holds the store's lock until rewrite returns, so no
// change is made between the sequence and what rewrite does with it: a
// journal replaces its file with a shorter one that way. rewrite must not
// call the store; its error is returned.
func (m *MemoryStore) Compact(rewrite func(state iter.Seq[Change]) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rewrite(func(yield func(Change) bool) {
		for _, ns := range slices.Sorted(maps.Keys(m.ns)) {
			list := m.ns[ns].list
			for len(list) > 0 {
				n := min(len(list), compactChunk)
				recs := make([]Record, n)
				for i, r := range list[:n] {
					recs[i] = *r
				}
				if !yield(Change{NS: ns, Records: recs}) {
					return
				}
				list = list[n:]
			}
		}
		keys := slices.SortedFunc(maps.Keys(m.docs), func(a, b DocKey) int {
			return cmp.Or(strings.Compare(a.NS, b.NS), strings.Compare(a.Kind, b.Kind),
				strings.Compare(a.ActivityID, b.ActivityID), strings.Compare(a.Agent, b.Agent),
				strings.Compare(a.Registration, b.Registration), strings.Compare(a.ID, b.ID))
		})
		for _, k := range keys {
			k, d := k, *m.docs[k]
			if !yield(Change{Key: &k, Doc: &d}) {
				return
			}
		}
	})
}

// Reset forgets everything (it is not journaled).
func (m *MemoryStore) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ns = make(map[string]*memNS)
	m.docs = make(map[DocKey]*Document)
}

// UpdateDocument implements DocumentStore.
func (m *MemoryStore) UpdateDocument(_ context.Context, key DocKey, fn func(cur *Document) (*Document, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur *Document
	if d, ok := m.docs[key]; ok {
		c := *d
		cur = &c
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	if next == nil && cur == nil {
		return nil
	}
	k := key
	return m.change(Change{Key: &k, Doc: next})
}

// Document implements DocumentStore.
func (m *MemoryStore) Document(_ context.Context, key DocKey) (Document, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.docs[key]
	if !ok {
		return Document{}, false, nil
	}
	return *d, true, nil
}

// DocumentIDs implements DocumentStore.
func (m *MemoryStore) DocumentIDs(_ context.Context, key DocKey, since time.Time) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	set := key.Set()
	ids := []string{}
	for k, d := range m.docs {
		if k.Set() == set && (since.IsZero() || d.Updated.After(since)) {
			ids = append(ids, k.ID)
		}
	}
	sort.Strings(ids)
	return slices.Compact(ids), nil
}

// DeleteDocuments implements DocumentStore.
func (m *MemoryStore) DeleteDocuments(_ context.Context, key DocKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := key.Set()
	return m.change(Change{DeleteSet: &set})
}
