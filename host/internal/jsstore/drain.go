package jsstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go/jetstream"
)

// drainBatch is how many statements Drain hands to its callback at once.
const drainBatch = 100

// Drain retires the queue of (org, sink) from any instance, for an
// integration that was removed: it closes the local queue, deletes the
// consumer (ending every instance's hold and in-flight batch), then reads
// the pending statements directly, oldest first, and hands them to fn in
// batches (the host dead-letters them as "removed"). A batch is deleted
// from the stream only after fn returned nil, so an error or a crash
// leaves the rest queued for a later Drain, never lost. Statements
// appended while Drain runs are drained too; Drain returns when the
// subject is empty. The file store's retire path (Next until empty) does
// not work here, because another instance may hold the consumer.
func (s *Store) Drain(ctx context.Context, org, sink string, fn func([]queue.Entry) error) error {
	subj, err := s.names.queueSubject(org, sink)
	if err != nil {
		return fmt.Errorf("drain queue: %w", err)
	}
	s.mu.Lock()
	q := s.queues[queue.Key{Org: org, Sink: sink}]
	s.mu.Unlock()
	if q != nil {
		q.Close()
	}
	if err := s.js.DeleteConsumer(ctx, s.cfg.Stream, consumerName(org, sink)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
	}
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
	}
	// The first format's messages (on subj) and framed ones (on subj.<n>):
	// order does not matter here, everything goes to fn.
	for _, filter := range []string{subj, subj + ".*"} {
		if err := s.drainSubject(ctx, st, org, sink, filter, fn); err != nil {
			return err
		}
	}
	return nil
}

// drainSubject hands the messages on filter to fn, about drainBatch
// statements at a time, deleting them once fn returned nil.
func (s *Store) drainSubject(ctx context.Context, st jetstream.Stream, org, sink, filter string, fn func([]queue.Entry) error) error {
	key := queue.Key{Org: org, Sink: sink}
	for seq := uint64(1); ; {
		var batch []queue.Entry
		var msgs []uint64
		for len(batch) < drainBatch {
			m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
			}
			es, err := messageEntries(key, s.cfg.Stream, m.Sequence, m.Time, m.Header, m.Data)
			if err != nil {
				return fmt.Errorf("drain queue: %w", err)
			}
			batch = append(batch, es...)
			msgs = append(msgs, m.Sequence)
			seq = m.Sequence + 1
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		for _, m := range msgs {
			if err := st.DeleteMsg(ctx, m); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
			}
		}
	}
}
