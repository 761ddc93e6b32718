package jsstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// deliveryLog records what each instance handed to its (simulated) sink.
type deliveryLog struct {
	mu    sync.Mutex
	first map[string][]string // key -> ids in order of first delivery
	seen  map[string]string   // key/id -> instance that delivered it first
	dups  []string            // "instance>instance key/id" of every repeated delivery
	// unacked holds key/id of statements whose acknowledgement failed
	// (an answer lost while a server stopped): they may come again.
	unacked map[string]bool
	// early holds key/id of statements first delivered before the server
	// stop ended: a stopped server's consumer leaders take their pins
	// with them, so what they had handed out may be handed out again.
	early   map[string]bool
	stopped bool
	cond    *sync.Cond
}

func newDeliveryLog() *deliveryLog {
	l := &deliveryLog{first: map[string][]string{}, seen: map[string]string{}, unacked: map[string]bool{}, early: map[string]bool{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *deliveryLog) add(inst, key string, es []queue.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range es {
		k := key + "/" + e.ID
		if prev, ok := l.seen[k]; ok {
			l.dups = append(l.dups, prev+">"+inst+" "+k)
			continue
		}
		l.seen[k] = inst
		l.early[k] = !l.stopped
		l.first[key] = append(l.first[key], e.ID)
	}
	l.cond.Broadcast()
}

func (l *deliveryLog) ackFailed(key string, es []queue.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range es {
		l.unacked[key+"/"+e.ID] = true
	}
}

// TestKillOneInstance is the in-process version of the kill test: three
// instances share a three-node cluster and six integrations, each
// delivering one batch at a time. While statements are recorded, one
// instance dies (nothing acknowledged or handed back) and then one server
// stops. Every recorded statement is delivered, first deliveries keep
// recording order per integration, and a statement is delivered twice only
// if the dead instance had it, it was in flight when the server stopped,
// or its acknowledgement got no answer.
func TestKillOneInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster for several seconds")
	}
	c := jstest.RunCluster(t, 3, jstest.Options{})
	cfg := testConfig(c.URL())
	cfg.Replicas = 3
	cfg.PinnedTTL = time.Second
	cfg.PublishTimeout = 30 * time.Second
	const keys, perKey = 6, 90
	log := newDeliveryLog()

	stores := make([]*jsstore.Store, 3)
	cancels := make([]context.CancelFunc, 3)
	var workers sync.WaitGroup
	for i := range stores {
		stores[i] = openStore(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		t.Cleanup(cancel)
		for k := range keys {
			q, err := stores[i].Queue(fmt.Sprintf("org-%d", k), "lrs")
			if err != nil {
				t.Fatal(err)
			}
			inst, key := fmt.Sprint(i), fmt.Sprint(k)
			workers.Add(1)
			go func() {
				defer workers.Done()
				for {
					es, err := q.Next(ctx, 20, 0)
					if err != nil {
						return
					}
					log.add(inst, key, es) // delivered to the sink
					if ctx.Err() != nil {
						return // died before acknowledging
					}
					seqs := make([]uint64, len(es))
					for i, e := range es {
						seqs[i] = e.Seq
					}
					if err := q.Ack(seqs...); err != nil {
						log.ackFailed(key, es) // allowed: delivered again later
					}
				}
			}()
		}
	}

	// Record through the two instances that survive, one producer per
	// integration; kill instance 0 a third of the way in, then a server.
	var producers sync.WaitGroup
	third := make(chan struct{})
	var once sync.Once
	for k := range keys {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for i := range perKey {
				s := stores[1+i%2]
				q, err := s.Queue(fmt.Sprintf("org-%d", k), "lrs")
				if err != nil {
					t.Error(err)
					return
				}
				id := fmt.Sprintf("s%04d", i)
				if err := q.Append(context.Background(), []queue.Item{{ID: id, Data: []byte(`{"id":"` + id + `"}`)}}); err != nil {
					t.Errorf("Append %s of org-%d: %v", id, k, err)
					return
				}
				if i == perKey/3 {
					once.Do(func() { close(third) })
				}
			}
		}()
	}
	<-third
	cancels[0]()
	stores[0].Kill()
	c.Servers[2].Shutdown()
	c.Servers[2].WaitForShutdown()
	log.mu.Lock()
	log.stopped = true
	log.mu.Unlock()
	producers.Wait()

	// Wait until every statement was delivered (bounded: a broken
	// backend fails here rather than hanging).
	deadline := time.AfterFunc(90*time.Second, func() {
		log.mu.Lock()
		log.cond.Broadcast()
		log.mu.Unlock()
	})
	defer deadline.Stop()
	timedOut := time.Now().Add(90 * time.Second)
	log.mu.Lock()
	for len(log.seen) < keys*perKey && time.Now().Before(timedOut) {
		log.cond.Wait()
	}
	seen := len(log.seen)
	first := log.first
	dups := log.dups
	unacked, early := log.unacked, log.early
	log.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}

	if seen != keys*perKey {
		t.Fatalf("delivered %d distinct statements, want %d", seen, keys*perKey)
	}
	for k := range keys {
		key := fmt.Sprint(k)
		for i, id := range first[key] {
			if want := fmt.Sprintf("s%04d", i); id != want {
				t.Errorf("org-%d: first delivery %d is %s, want %s (recording order)", k, i, id, want)
				break
			}
		}
	}
	for _, d := range dups {
		_, keyID, _ := strings.Cut(d, " ")
		if d[0] != '0' && !unacked[keyID] && !early[keyID] {
			t.Errorf("statement delivered twice, not first by the dead instance, nor in flight when the server stopped, nor after a failed acknowledgement: %s", d)
		}
	}
	t.Logf("duplicates (batches of the dead instance or in flight when the server stopped): %d", len(dups))
}
