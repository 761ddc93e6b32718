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
	for seq := uint64(1); ; {
		var batch []queue.Entry
		for len(batch) < drainBatch {
			m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
			}
			batch = append(batch, queue.Entry{Seq: m.Sequence, ID: m.Header.Get(hdrStatementID), Data: m.Data, Appended: m.Time})
			seq = m.Sequence + 1
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		for _, e := range batch {
			if err := st.DeleteMsg(ctx, e.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
			}
		}
	}
}
