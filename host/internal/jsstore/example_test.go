package jsstore_test

import (
	"context"
	"fmt"
	"os"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats-server/v2/server"
)

// Example opens the JetStream backend on a single embedded server (in
// production: a three-node cluster and Replicas 3), records two statements
// and delivers them.
func Example() {
	dir, err := os.MkdirTemp("", "lrsbridge-nats-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10e9) {
		panic("server not ready")
	}

	cfg := jsstore.DefaultConfig()
	cfg.URL = ns.ClientURL()
	cfg.Replicas = 1
	cfg.MaxTotalBytes = 64 << 20
	ctx := context.Background()
	s, err := jsstore.Open(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	q, err := s.Queue("acme", "lrs")
	if err != nil {
		panic(err)
	}
	if err := q.Append(ctx, []queue.Item{{ID: "st-1", Data: []byte(`{"id":"st-1"}`)}, {ID: "st-2", Data: []byte(`{"id":"st-2"}`)}}); err != nil {
		panic(err)
	}
	for delivered := 0; delivered < 2; {
		es, err := q.Next(ctx, 10, 0) // blocks until something is there
		if err != nil {
			panic(err)
		}
		for _, e := range es {
			fmt.Println(e.ID, string(e.Data))
			if err := q.Ack(e.Seq); err != nil {
				panic(err)
			}
		}
		delivered += len(es)
	}
	fmt.Println("pending:", q.Stats().Pending)
	// Output:
	// st-1 {"id":"st-1"}
	// st-2 {"id":"st-2"}
	// pending: 0
}
