package jsstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Option configures Open.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sets the logger for notices (a consumer reset that keeps
// failing, a stream below three replicas). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// Store is the JetStream queue store: the queues of every integration in
// one WorkQueue stream, one durable pinned consumer per queue. It
// implements the same methods as the file store (queue.Store) and is safe
// for concurrent use. Several instances (processes) may open stores on the
// same servers: they share the queues, and each queue is delivered by one
// of them at a time.
type Store struct {
	cfg   Config
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	names names
	pub   *publisher

	mu     sync.Mutex // guards queues and closed
	queues map[queue.Key]*jsQueue
	closed bool

	orgMu   sync.Mutex // guards tallies
	tallies map[string]*tally
}

// Open connects to the servers, creates (or, with Create false, verifies)
// the queue stream and returns the store. ctx bounds the start.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	nc, err := nats.Connect(cfg.URL, cfg.connectOptions()...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(cfg.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to NATS JetStream: %w", err)
	}
	s := &Store{
		cfg: cfg, log: o.log, nc: nc, js: js,
		names:   names{stream: cfg.Stream, prefix: cfg.SubjectPrefix},
		queues:  map[queue.Key]*jsQueue{},
		tallies: map[string]*tally{},
	}
	if err := s.setupStream(ctx, s.queueStreamConfig()); err != nil {
		nc.Close()
		return nil, err
	}
	if cfg.Replicas < 3 {
		o.log.Warn("queue stream has fewer than 3 replicas: losing its server loses queued statements", "stream", cfg.Stream, "replicas", cfg.Replicas)
	}
	s.pub = newPublisher(nc, cfg.PublishTimeout, cfg.GroupCommit, cfg.GroupWindow)
	nc.SetReconnectHandler(s.reconnected)
	return s, nil
}

// reconnected runs when the connection is back after it broke (its server
// went away): what the servers delivered to this instance meanwhile is
// lost, and would come again only after AckWait, or once a later delivery
// shows the gap. Every queue this instance holds goes back to its
// acknowledged floor at once instead.
func (s *Store) reconnected(*nats.Conn) {
	s.mu.Lock()
	qs := make([]*jsQueue, 0, len(s.queues))
	for _, q := range s.queues {
		qs = append(qs, q)
	}
	s.mu.Unlock()
	for _, q := range qs {
		q.reconnected()
	}
}

func (s *Store) queueStreamConfig() jetstream.StreamConfig {
	c := s.cfg
	sc := jetstream.StreamConfig{
		Name:               c.Stream,
		Description:        "lrsbridge delivery queues",
		Subjects:           []string{c.SubjectPrefix + ".>"},
		Retention:          jetstream.WorkQueuePolicy,
		Storage:            jetstream.FileStorage,
		Replicas:           c.Replicas,
		Discard:            jetstream.DiscardNew,
		MaxBytes:           -1,
		MaxMsgs:            -1,
		MaxMsgsPerSubject:  -1,
		MaxConsumers:       c.MaxConsumers,
		Duplicates:         c.DuplicateWindow,
		AllowAtomicPublish: true,
	}
	if c.MaxTotalBytes > 0 {
		sc.MaxBytes = c.MaxTotalBytes
	}
	if c.MaxQueueMessages > 0 {
		sc.MaxMsgsPerSubject = c.MaxQueueMessages
		sc.DiscardNewPerSubject = true
	}
	return sc
}

// setupStream creates or updates a stream, or with Create false checks
// that it exists with the settings the backend relies on.
func (s *Store) setupStream(ctx context.Context, want jetstream.StreamConfig) error {
	if s.cfg.create() {
		for {
			_, err := s.js.CreateOrUpdateStream(ctx, want)
			if err == nil {
				return nil
			}
			if !clusterForming(err) || ctx.Err() != nil {
				return fmt.Errorf("create or update NATS stream %s (queue.nats.create is on): %w", want.Name, err)
			}
			// A cluster that is still forming has no peers to place
			// the stream on yet: wait for it within ctx.
			select {
			case <-ctx.Done():
				return fmt.Errorf("create or update NATS stream %s (queue.nats.create is on): %w", want.Name, err)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	st, err := s.js.Stream(ctx, want.Name)
	if err != nil {
		return fmt.Errorf("NATS stream %s (queue.nats.create is off, so it must exist): %w", want.Name, err)
	}
	got := st.CachedInfo().Config
	var bad []string
	if got.Retention != want.Retention {
		bad = append(bad, fmt.Sprintf("retention is %v, want %v", got.Retention, want.Retention))
	}
	if got.Replicas != want.Replicas {
		bad = append(bad, fmt.Sprintf("replicas is %d, queue.nats.replicas says %d", got.Replicas, want.Replicas))
	}
	if want.AllowAtomicPublish && !got.AllowAtomicPublish {
		bad = append(bad, "allow_atomic is off")
	}
	if want.DiscardNewPerSubject && (!got.DiscardNewPerSubject || got.Discard != jetstream.DiscardNew) {
		bad = append(bad, "discard new per subject is off")
	}
	if !slices.Equal(got.Subjects, want.Subjects) {
		bad = append(bad, fmt.Sprintf("subjects are %v, want %v", got.Subjects, want.Subjects))
	}
	if len(bad) > 0 {
		return fmt.Errorf("NATS stream %s is not set up as lrsbridge needs: %s; fix the stream or turn queue.nats.create on", want.Name, strings.Join(bad, "; "))
	}
	return nil
}

// Queue opens the queue of (org, sink), creating its consumer if needed.
// Calls with the same key return the same open queue until it is closed.
func (s *Store) Queue(org, sink string) (queue.Queue, error) {
	subj, err := s.names.queueSubject(org, sink)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	k := queue.Key{Org: org, Sink: sink}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, queue.ErrClosed
	}
	if q := s.queues[k]; q != nil {
		return q, nil
	}
	cname := consumerName(org, sink)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	_, err = s.js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		Durable:        cname,
		Description:    "lrsbridge delivery of one integration",
		FilterSubjects: []string{subj, subj + ".*"}, // the first format, framed messages
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        s.cfg.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  s.cfg.MaxAckPending,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		PinnedTTL:      s.cfg.PinnedTTL,
		Metadata:       map[string]string{"lrsbridge.org": org, "lrsbridge.sink": sink},
	})
	if err != nil {
		return nil, fmt.Errorf("open queue of %s/%s: create consumer: %w", org, sink, err)
	}
	q, err := newQueue(s, k, subj, cname)
	if err != nil {
		return nil, fmt.Errorf("open queue of %s/%s: %w", org, sink, err)
	}
	s.queues[k] = q
	return q, nil
}

// forget drops q from the open queues after its Close.
func (s *Store) forget(q *jsQueue) {
	s.mu.Lock()
	if s.queues[q.key] == q {
		delete(s.queues, q.key)
	}
	s.mu.Unlock()
}

// Remove closes the queue of (org, sink) if it is open, deletes its
// consumer (ending every instance's hold on it) and purges its statements.
// Removing a queue that does not exist is not an error.
func (s *Store) Remove(org, sink string) error {
	subj, err := s.names.queueSubject(org, sink)
	if err != nil {
		return fmt.Errorf("remove queue: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return queue.ErrClosed
	}
	q := s.queues[queue.Key{Org: org, Sink: sink}]
	s.mu.Unlock()
	if q != nil {
		q.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, s.cfg.Stream, consumerName(org, sink)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("remove queue of %s/%s: %w", org, sink, err)
	}
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return fmt.Errorf("remove queue of %s/%s: %w", org, sink, err)
	}
	for _, filter := range []string{subj, subj + ".*"} { // the first format, framed messages
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
			return fmt.Errorf("remove queue of %s/%s: purge: %w", org, sink, err)
		}
	}
	return nil
}

// Queues lists the queues that have a consumer or pending statements,
// sorted by org and sink.
func (s *Store) Queues() []queue.Key {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	var out []queue.Key
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		s.log.Warn("list queues", "err", err)
		return nil
	}
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		org, sink := ci.Config.Metadata["lrsbridge.org"], ci.Config.Metadata["lrsbridge.sink"]
		if org != "" && sink != "" {
			out = append(out, queue.Key{Org: org, Sink: sink})
		}
	}
	if err := lister.Err(); err != nil {
		s.log.Warn("list queue consumers", "err", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.cfg.SubjectPrefix+".>"))
	if err != nil {
		s.log.Warn("list queue subjects", "err", err)
	} else {
		for subj := range info.State.Subjects {
			org, sink, err := s.names.parseSubject(s.cfg.SubjectPrefix, queueBase(subj))
			if err != nil {
				s.log.Warn("skipping a subject that is not a queue", "subject", subj)
				continue
			}
			out = append(out, queue.Key{Org: org, Sink: sink})
		}
	}
	slices.SortFunc(out, func(a, b queue.Key) int {
		return cmp.Or(strings.Compare(a.Org, b.Org), strings.Compare(a.Sink, b.Sink))
	})
	return slices.Compact(out)
}

// Close closes every open queue (letting go of the integrations this
// instance delivers) and the connection. Later calls return
// queue.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return queue.ErrClosed
	}
	s.closed = true
	qs := make([]*jsQueue, 0, len(s.queues))
	for _, q := range s.queues {
		qs = append(qs, q)
	}
	s.mu.Unlock()
	var errs []error
	for _, q := range qs {
		errs = append(errs, q.Close())
	}
	s.pub.close()
	s.nc.Close()
	return errors.Join(errs...)
}

// subjectStats reads the pending statements, approximate bytes and
// oldest time of one queue subject. A message is counted whole until it
// leaves the stream, when its last statement is acknowledged.
func (s *Store) subjectStats(org, subj string) (queue.Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := s.orgInfo(ctx, org)
	if err != nil {
		return queue.Stats{}, err
	}
	n := pendingStatements(info.State.Subjects, subj)
	if n == 0 {
		return queue.Stats{}, nil
	}
	out := queue.Stats{Pending: int(n)}
	var msgs uint64
	for sub, m := range info.State.Subjects {
		if queueBase(sub) == subj {
			msgs += m
		}
	}
	if info.State.Msgs > 0 {
		out.PendingBytes = int64(msgs) * int64(info.State.Bytes/info.State.Msgs)
	}
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return out, nil
	}
	for _, filter := range []string{subj, subj + ".*"} {
		m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(filter))
		if err == nil && (out.Oldest.IsZero() || m.Time.Before(out.Oldest)) {
			out.Oldest = m.Time
		}
	}
	return out, nil
}

// quotaError names the quota the servers enforced when they refused n
// statements for subj: the per-queue one when the queue is at its limit,
// the stream's total otherwise. Limit, Used and Need count statements for
// the queue quota and bytes for the total.
func (s *Store) quotaError(org, subj string, n int, cause *apiError) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if info, err := s.orgInfo(ctx, org); err == nil {
		used := pendingStatements(info.State.Subjects, subj)
		if lim := s.cfg.MaxQueueMessages; lim > 0 && used+int64(n) > lim {
			return &queue.QuotaError{Quota: queue.QuotaQueue, Limit: lim, Used: used, Need: int64(n)}
		}
		return &queue.QuotaError{Quota: queue.QuotaTotal, Limit: s.cfg.MaxTotalBytes, Used: int64(info.State.Bytes)}
	}
	return fmt.Errorf("%w: %w", &queue.QuotaError{Quota: queue.QuotaTotal, Limit: s.cfg.MaxTotalBytes}, cause)
}

// nuidNext returns a fresh random id for an Append's message ids.
func nuidNext() string { return nuid.Next() }

// ackTimeout bounds the wait for the servers to confirm acknowledgements.
const ackTimeout = 5 * time.Second

// ackAll sends +ACK on every reply subject as a request and waits for all
// the confirmations, so that none is fire-and-forget.
func (s *Store) ackAll(replies []string) error {
	inbox := s.nc.NewInbox()
	ch := make(chan *nats.Msg, len(replies))
	sub, err := s.nc.ChanSubscribe(inbox+".*", ch)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	for i, r := range replies {
		if err := s.nc.PublishRequest(r, inbox+"."+strconv.Itoa(i), []byte("+ACK")); err != nil {
			return err
		}
	}
	t := time.NewTimer(ackTimeout)
	defer t.Stop()
	refused := 0
	for got := 0; got < len(replies); got++ {
		select {
		case m := <-ch:
			if m.Header.Get("Status") != "" {
				refused++ // 503: no consumer leader took it
			}
		case <-t.C:
			return fmt.Errorf("%d of %d acknowledgements unconfirmed: %w", len(replies)-got, len(replies), nats.ErrTimeout)
		}
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d acknowledgements not applied: %w", refused, len(replies), errNoLeader)
	}
	return nil
}

// errNoLeader is an acknowledgement's answer when the consumer has no
// leader (its server went away and the next one is not elected yet).
var errNoLeader = errors.New("the integration's consumer has no leader for now (a NATS server went away)")

// clusterForming reports whether err is a JetStream answer that a cluster
// still forming gives (no peers to place a stream on, no cluster leader
// yet), worth retrying while the host starts.
func clusterForming(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.ErrorCode(10005), // no suitable peers for placement
		jetstream.ErrorCode(10008): // JetStream system temporarily unavailable
		return true
	}
	return false
}
