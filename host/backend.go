package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/host/internal/statefile"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Backend says where the host keeps its queues, dead letters and
// normalizer state.
type Backend string

// Backends.
const (
	// BackendFile keeps everything in files under data_dir: one instance
	// per data directory. The default; it needs no server.
	BackendFile Backend = "file"
	// BackendJetStream keeps queues, dead letters and normalizer state on
	// NATS JetStream servers (queue.nats.*), shared by every instance that
	// names the same servers and stream.
	BackendJetStream Backend = "jetstream"
)

// UnmarshalText accepts "file" or "jetstream".
func (b *Backend) UnmarshalText(text []byte) error {
	v := Backend(text)
	if err := v.check(); err != nil {
		return err
	}
	*b = v
	return nil
}

func (b Backend) check() error {
	if b != BackendFile && b != BackendJetStream {
		return fmt.Errorf("is %q, want %q or %q", string(b), BackendFile, BackendJetStream)
	}
	return nil
}

// backendProblems checks queue.backend and, with the jetstream backend
// only, queue.nats.*.
func (c *Config) backendProblems() []ConfigProblem {
	if err := c.Queue.Backend.check(); err != nil {
		return []ConfigProblem{{"queue.backend", err.Error()}}
	}
	if c.Queue.Backend != BackendJetStream {
		return nil
	}
	var out []ConfigProblem
	if err := c.Queue.NATS.internal().Validate(); err != nil {
		for _, e := range flatten(err) {
			key, msg, ok := strings.Cut(e.Error(), ": ")
			if !ok {
				key, msg = "queue.nats", e.Error()
			}
			out = append(out, ConfigProblem{key, msg})
		}
	}
	if need := c.Delivery.Parallel * c.Delivery.BatchSize; c.Queue.NATS.MaxAckPending < need {
		out = append(out, ConfigProblem{"queue.nats.max_ack_pending", fmt.Sprintf(
			"is %d, below delivery.parallel x delivery.batch_size (%d): raise it to at least %d or lower those",
			c.Queue.NATS.MaxAckPending, need, need)})
	}
	return out
}

// flatten returns the errors joined in err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// shared reports whether the host's queues are shared with other
// instances.
func (h *Host) shared() bool { return h.cfg.Queue.Backend == BackendJetStream }

// openBackend opens the queues, the dead-letter store and the normalizer
// state of the configured backend. With the file backend it does not
// touch the network.
func (h *Host) openBackend(ctx context.Context, box *secret.Box) error {
	cfg := h.cfg
	if cfg.Queue.Backend != BackendJetStream {
		qs, err := queue.Open(queue.Options{
			Dir:           filepath.Join(cfg.DataDir, "queues"),
			Sync:          cfg.Queue.Sync.policy(),
			GroupWindow:   cfg.Queue.GroupWindow,
			MaxQueueBytes: cfg.Queue.MaxQueueBytes,
			MaxOrgBytes:   cfg.Queue.MaxOrgBytes,
			MaxTotalBytes: cfg.Queue.MaxTotalBytes,
			MaxOpenFiles:  cfg.Queue.MaxOpenFiles,
			Logger:        h.log,
		})
		if err != nil {
			return fmt.Errorf("open queues: %w", err)
		}
		h.queues = qs
		dead := deadletter.New(filepath.Join(cfg.DataDir, "deadletter"))
		// The entries in flight of an integration are the most that a
		// crash can have dead-lettered without acknowledging them.
		dead.Window = max(deadletter.DefaultWindow, cfg.Delivery.Parallel*cfg.Delivery.BatchSize)
		if err := dead.Migrate(); err != nil {
			_ = qs.Close()
			return err
		}
		h.dead = dead
		h.reg = registry.NewFile(filepath.Join(cfg.DataDir, "integrations.json"), box)
		state := statefile.New(filepath.Join(cfg.DataDir, "state"))
		if err := state.Migrate(); err != nil {
			_ = qs.Close()
			return err
		}
		h.state = state
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.Queue.NATS.ConnectTimeout)
	defer cancel()
	s, err := jsstore.Open(ctx, cfg.Queue.NATS.internal(), jsstore.WithLogger(h.log))
	if err != nil {
		return fmt.Errorf("open the jetstream backend (queue.nats): %w", err)
	}
	dl, err := s.DeadLetters(ctx)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("open the jetstream backend (queue.nats): %w", err)
	}
	state, err := s.Bucket(ctx, jsstore.BucketState, 0)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("open the jetstream backend (queue.nats): %w", err)
	}
	settings, err := s.Bucket(ctx, jsstore.BucketConfig, 0)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("open the jetstream backend (queue.nats): %w", err)
	}
	status, err := s.Bucket(ctx, jsstore.BucketStatus, statusTTL)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("open the jetstream backend (queue.nats): %w", err)
	}
	counts, err := s.Bucket(ctx, jsstore.BucketCounts, 0)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("open the jetstream backend (queue.nats): %w", err)
	}
	instance, err := instanceID(cfg)
	if err != nil {
		_ = s.Close()
		return err
	}
	h.queues = s
	h.dead = sharedDeadLetters{dl}
	h.reg = &sharedRegistry{b: settings, box: box}
	h.peers = newSharedStatus(status, instance)
	h.shCounts = newSharedCounts(counts.Counts(), instance)
	h.state = sharedState{state.OrgState()}
	return nil
}

// startWatch starts the goroutines that apply what other instances save
// and exchange the status of integrations with them.
func (h *Host) startWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	done, statusDone, countsDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go h.watchShared(ctx, h.reg.(*sharedRegistry), done)
	go func() {
		defer close(statusDone)
		h.peers.run(ctx, h)
	}()
	go func() {
		defer close(countsDone)
		h.shCounts.run(ctx, h)
	}()
	h.stopWatch = func() {
		cancel()
		<-done
		<-statusDone
		<-countsDone
	}
}

// queueDrainer is a queue store whose queues may be held by another
// instance: a removed integration's queue is drained from the store, not
// through its consumer.
type queueDrainer interface {
	Drain(ctx context.Context, org, sink string, fn func([]queue.Entry) error) error
}

var _ queueDrainer = (*jsstore.Store)(nil)

// retireShared moves every pending statement of a removed integration's
// shared queue to the dead-letter store, class "removed". A batch leaves
// the queue only once its dead letters are stored; on an error the rest
// stays queued.
func (h *Host) retireShared(ctx context.Context, d queueDrainer, orgID, sink string) {
	moved := 0
	err := d.Drain(context.WithoutCancel(ctx), orgID, sink, func(entries []queue.Entry) error {
		now := time.Now().UTC()
		list := make([]deadletter.Letter, len(entries))
		for i, e := range entries {
			e.Data = append([]byte(nil), e.Data...)
			list[i] = deadletter.FromEntry(orgID, sink, e, DeadLetterRemoved,
				"the integration was removed before the statement was delivered", now)
		}
		if err := h.dead.Add(ctx, orgID, list); err != nil {
			return err
		}
		moved += len(list)
		return nil
	})
	if moved > 0 {
		h.log.Warn("statements of a removed integration moved to dead letters", "org", orgID, "sink", sink, "count", moved)
	}
	if err != nil {
		h.log.Error("cannot move statements of a removed integration to dead letters; they stay queued", "org", orgID, "sink", sink, "error", err)
	}
}

// sharedDeadLetters adapts the JetStream dead-letter store to the host's
// deadLetterStore.
type sharedDeadLetters struct {
	d *jsstore.DeadLetters
}

var _ deadLetterStore = sharedDeadLetters{}

// Add stores dead letters, giving each an id when it has none (the id is
// also what makes a retried Add store them once).
func (s sharedDeadLetters) Add(ctx context.Context, org string, list []deadletter.Letter) error {
	out := make([]jsstore.DeadLetter, len(list))
	for i := range list {
		if list[i].ID == "" {
			list[i].ID = xapi.NewUUID()
		}
		out[i] = jsstore.DeadLetter(list[i])
	}
	return s.d.Add(ctx, org, out)
}

// List returns the dead letters of org matching f, oldest first.
func (s sharedDeadLetters) List(ctx context.Context, org string, f deadletter.Filter) ([]deadletter.Letter, error) {
	all, err := s.d.List(ctx, org, f.Sink, 0)
	if err != nil {
		return nil, err
	}
	var out []deadletter.Letter
	for _, d := range all {
		if len(f.IDs) == 0 || slices.Contains(f.IDs, d.ID) {
			out = append(out, deadletter.Letter(d))
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// Remove deletes the dead letters of org matching f and returns how many
// it deleted.
func (s sharedDeadLetters) Remove(ctx context.Context, org string, f deadletter.Filter) (int, error) {
	if f.Limit > 0 {
		list, err := s.List(ctx, org, f)
		if err != nil {
			return 0, err
		}
		f.IDs = make([]string, len(list))
		for i, d := range list {
			f.IDs[i] = d.ID
		}
		if len(f.IDs) == 0 {
			return 0, nil
		}
	}
	removed, err := s.d.Remove(ctx, org, f.Sink, f.IDs)
	return len(removed), err
}

// Replay hands the dead letters of org matching f to put in chunks bounded
// by c, oldest first, and removes the ones put reports as done before it
// hands over the next chunk; it stops at put's first error. The shared
// store lists the matching letters at once, so they are held in memory for
// the replay (the file store reads one chunk at a time).
func (s sharedDeadLetters) Replay(ctx context.Context, org string, f deadletter.Filter, c deadletter.Chunk, put func([]deadletter.Letter) ([]string, error)) (int, error) {
	list, err := s.List(ctx, org, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for len(list) > 0 {
		k, size := 0, 0
		for k < len(list) && (k == 0 || (c.Letters <= 0 || k < c.Letters) && (c.Bytes <= 0 || size+len(list[k].Statement) <= c.Bytes)) {
			size += len(list[k].Statement)
			k++
		}
		done, putErr := put(list[:k])
		if len(done) > 0 {
			removed, err := s.d.Remove(context.WithoutCancel(ctx), org, "", done)
			n += len(removed)
			if err != nil {
				return n, errors.Join(putErr, err)
			}
		}
		if putErr != nil {
			return n, putErr
		}
		list = list[k:]
	}
	return n, nil
}

// sharedState is the normalizer state in the shared backend's bucket.
type sharedState struct{ *jsstore.OrgState }

// archivedState is one line of the state.ndjson archive of a removed
// organization: the bucket key and the state (JSON as the normalizer
// saved it, or its bytes in base64 when they are not JSON).
type archivedState struct {
	Key    string          `json:"key"`
	State  json.RawMessage `json:"state,omitempty"`
	Base64 []byte          `json:"state_base64,omitempty"`
}

// Archive copies every state of org into dir/state.ndjson on this
// instance's disk, as dead letters are archived, then deletes them from
// the shared bucket, so that an organization created later with the same
// id starts its attempts from scratch.
func (s sharedState) Archive(ctx context.Context, org, dir string) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	n := 0
	err := s.Export(ctx, org, func(key string, value []byte) error {
		line := archivedState{Key: key}
		if json.Valid(value) {
			line.State = value
		} else {
			line.Base64 = value
		}
		n++
		return enc.Encode(line)
	})
	if err != nil {
		return false, fmt.Errorf("archive scorm state of %s: %w", org, err)
	}
	if n > 0 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
		if err := atomicfile.Write(filepath.Join(dir, "state.ndjson"), buf.Bytes(), 0o600); err != nil {
			return false, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
	}
	removed, err := s.RemoveOrg(ctx, org)
	return n > 0 || removed > 0, err
}

// Archive moves every dead letter of org out of the shared store into
// dir/deadletter.ndjson on this instance's disk, so that an organization
// created later with the same id starts without them.
func (s sharedDeadLetters) Archive(ctx context.Context, org, dir string) (bool, error) {
	list, err := s.List(ctx, org, deadletter.Filter{})
	if err != nil || len(list) == 0 {
		return false, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	ids := make([]string, len(list))
	for i, d := range list {
		if err := enc.Encode(d); err != nil {
			return false, fmt.Errorf("archive dead letters of %s: %w", org, err)
		}
		ids[i] = d.ID
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("archive dead letters of %s: %w", org, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "deadletter.ndjson"), buf.Bytes(), 0o600); err != nil {
		return false, fmt.Errorf("archive dead letters of %s: %w", org, err)
	}
	if _, err := s.d.Remove(context.WithoutCancel(ctx), org, "", ids); err != nil {
		return true, fmt.Errorf("archive dead letters of %s: %w", org, err)
	}
	return true, nil
}

// Counts returns the number of dead letters of org per integration.
func (s sharedDeadLetters) Counts(ctx context.Context, org string) (map[string]int, error) {
	return s.d.Counts(ctx, org)
}
