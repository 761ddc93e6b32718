package queue_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/learningflow/lrsbridge/host/internal/queue"
)

func Example() {
	dir, err := os.MkdirTemp("", "lrsbridge-queue")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := queue.Open(queue.Options{Dir: dir, MaxOrgBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	q, err := s.Queue("acme", "Acme LRS")
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	// Recording: Append returns once the statements are on disk.
	err = q.Append(ctx, []queue.Item{
		{ID: "3c6e0b8a-9c0b-4e1a-8f2d-7a6b5c4d3e2f", Data: []byte(`{"id":"3c6e0b8a-9c0b-4e1a-8f2d-7a6b5c4d3e2f"}`)},
		{ID: "5d1f7c2e-0a9b-4c3d-8e7f-1a2b3c4d5e6f", Data: []byte(`{"id":"5d1f7c2e-0a9b-4c3d-8e7f-1a2b3c4d5e6f"}`)},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, queue.ErrFull) when over a quota
	}

	// Delivery: take a batch, send it, then acknowledge it (or Release it
	// to try again later).
	batch, err := q.Next(ctx, 100, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range batch {
		fmt.Println(e.Seq, e.ID)
	}
	var seqs []uint64
	for _, e := range batch {
		seqs = append(seqs, e.Seq)
	}
	if err := q.Ack(seqs...); err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", q.Stats().Pending)
	fmt.Println("queues:", s.Queues())
	// Output:
	// 1 3c6e0b8a-9c0b-4e1a-8f2d-7a6b5c4d3e2f
	// 2 5d1f7c2e-0a9b-4c3d-8e7f-1a2b3c4d5e6f
	// pending: 0
	// queues: [{acme Acme LRS}]
}
