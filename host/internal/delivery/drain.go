package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// Drain moves every statement of q to the dead-letter store with class and
// reason, in chunks, each durable in the store before it leaves the queue,
// and returns how many it moved. No worker may consume q meanwhile; new
// appends must have stopped. On an error the statements not yet moved
// stay in q.
func Drain(ctx context.Context, q queue.Queue, dl DeadLetters, org, sink, class, reason string) (int, error) {
	moved := 0
	for {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		entries, err := q.Next(nctx, 1000, 16<<20)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil || err == nil && len(entries) == 0 {
			return moved, nil
		}
		if err != nil {
			return moved, fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
		}
		list := make([]deadletter.Letter, len(entries))
		now := time.Now().UTC()
		for i, e := range entries {
			list[i] = deadletter.FromEntry(org, sink, e, class, reason, now)
		}
		if err := dl.Add(ctx, org, list); err != nil {
			q.Release(seqsOf(entries)...)
			return moved, fmt.Errorf("move statements of %s/%s to dead letters: %w", org, sink, err)
		}
		if err := q.Ack(seqsOf(entries)...); err != nil {
			return moved, fmt.Errorf("drain queue of %s/%s: %w", org, sink, err)
		}
		moved += len(entries)
	}
}
