package jsstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestOrphaned checks when a waiting instance resets a consumer: only when
// nobody holds it, statements are handed out, and no pull could get
// anything (so no instance would become its holder before AckWait). With
// statements pending, the next pull's instance becomes the holder and
// resets it itself: a waiting instance's reset could then land after that
// and send the new holder's batch again.
func TestOrphaned(t *testing.T) {
	pinned := []jetstream.PriorityGroupState{{Group: "lrsbridge", PinnedClientID: "p1"}}
	unpinned := []jetstream.PriorityGroupState{{Group: "lrsbridge"}}
	for _, tc := range []struct {
		name  string
		info  jetstream.ConsumerInfo
		reset bool
	}{
		{"nothing handed out", jetstream.ConsumerInfo{PriorityGroups: unpinned, NumPending: 5}, false},
		{"held by an instance", jetstream.ConsumerInfo{PriorityGroups: pinned, NumAckPending: 10}, false},
		{"left, statements pending: the next pull takes over",
			jetstream.ConsumerInfo{PriorityGroups: unpinned, NumAckPending: 10, NumPending: 3}, false},
		{"left, nothing pending", jetstream.ConsumerInfo{PriorityGroups: unpinned, NumAckPending: 10}, true},
		{"left, no priority group state yet", jetstream.ConsumerInfo{NumAckPending: 10}, true},
		{"left with max_ack_pending handed out",
			jetstream.ConsumerInfo{Config: jetstream.ConsumerConfig{MaxAckPending: 10}, PriorityGroups: unpinned, NumAckPending: 10, NumPending: 3}, true},
	} {
		if got := jsstore.Orphaned(&tc.info); got != tc.reset {
			t.Errorf("%s: Orphaned = %v, want %v", tc.name, got, tc.reset)
		}
	}
}

// oneQueue starts a server and opens the queue acme/lrs on one instance.
func oneQueue(t *testing.T) (*jstest.Cluster, jsstore.Config, queue.Queue) {
	t.Helper()
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	q, err := openStore(t, cfg).Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg, q
}

// testJetStream connects the test itself to the servers, as another
// instance would.
func testJetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestLateResetKeepsHolderBatch resets the consumer behind the holder's
// back while it delivers a batch, as a waiting instance that read the
// consumer's state just before the holder took over would. The holder's
// acknowledgement of that batch then does not take (the servers ignore it
// after the reset) and the batch is delivered to it again: it acknowledges
// it again instead of handing it out twice, and goes on in order.
func TestLateResetKeepsHolderBatch(t *testing.T) {
	srv, cfg, q := oneQueue(t)
	appendAll(t, q, ids("s", 0, 30))
	first := takeN(t, q, 10)
	if diff := cmp.Diff(ids("s", 0, 10), entryIDs(first)); diff != "" {
		t.Fatalf("first batch (-want +got):\n%s", diff)
	}

	js := testJetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.ResetConsumer(ctx, cfg.Stream, jsstore.ConsumerName("acme", "lrs")); err != nil {
		t.Fatalf("reset the consumer as a late waiting instance would: %v", err)
	}
	_ = q.Ack(entrySeqs(first)...) // may report that the servers did not confirm it

	rest := takeN(t, q, 20)
	if diff := cmp.Diff(ids("s", 10, 30), entryIDs(rest)); diff != "" {
		t.Errorf("after the late reset (-want +got):\n%s", diff)
	}
	if err := q.Ack(entrySeqs(rest)...); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Pending != 0 {
		t.Errorf("Pending after every statement was acknowledged = %d, want 0", st.Pending)
	}
}

// TestAckWithoutLeader acknowledges statements whose consumer no server
// leads (here: it was deleted under the holder): the acknowledgement
// reports that it was not applied, rather than taking the servers'
// "no responders" answer for a confirmation.
func TestAckWithoutLeader(t *testing.T) {
	srv, cfg, q := oneQueue(t)
	appendAll(t, q, ids("s", 0, 3))
	es := takeN(t, q, 3)
	js := testJetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteConsumer(ctx, cfg.Stream, jsstore.ConsumerName("acme", "lrs")); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(entrySeqs(es)...); !errors.Is(err, jsstore.ErrNoLeader) {
		t.Errorf("Ack with no consumer leader = %v, want an error wrapping %v", err, jsstore.ErrNoLeader)
	}
}

// TestLeaderStepDown moves a consumer's leader to another server while two
// instances deliver it. The next leader knows no pin and drops every pull
// request (answering 409 Leadership Change): the instances pull again at
// once rather than after a pull interval (4 s with this pinned_ttl), so
// statements recorded after the move are delivered within a second or so
// (the bound allows 2 s for a loaded machine). Nothing was in flight, so
// every statement is delivered once, in recording order.
func TestLeaderStepDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := jstest.RunCluster(t, 3, jstest.Options{})
	cfg := testConfig(c.URL())
	cfg.Replicas = 3
	cfg.PinnedTTL = 30 * time.Second
	cfg.AckWait = time.Minute
	a, b := openStore(t, cfg), openStore(t, cfg)
	type delivered struct {
		id string
		at time.Time
	}
	var (
		mu   sync.Mutex
		got  []delivered
		cond = sync.NewCond(&mu)
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*jsstore.Store{a, b} {
		q, err := s.Queue("acme", "lrs")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				es, err := q.Next(ctx, 5, 0)
				if err != nil {
					return
				}
				if err := q.Ack(entrySeqs(es)...); err != nil {
					t.Errorf("Ack: %v", err)
				}
				mu.Lock()
				for _, e := range es {
					got = append(got, delivered{e.ID, time.Now()})
				}
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	waitDelivered := func(n int) {
		t.Helper()
		stop := time.AfterFunc(time.Minute, func() {
			mu.Lock()
			cancel() // ends a broken test instead of hanging
			cond.Broadcast()
			mu.Unlock()
		})
		defer stop.Stop()
		mu.Lock()
		defer mu.Unlock()
		for len(got) < n && ctx.Err() == nil {
			cond.Wait()
		}
		if len(got) < n {
			t.Fatalf("%d statements delivered, want %d", len(got), n)
		}
	}
	qa, err := a.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, qa, ids("s", 0, 20))
	waitDelivered(20)

	nc, err := nats.Connect(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	resp, err := nc.Request("$JS.API.CONSUMER.LEADER.STEPDOWN."+cfg.Stream+"."+jsstore.ConsumerName("acme", "lrs"), nil, 10*time.Second)
	if err != nil {
		t.Fatalf("step down the consumer's leader: %v", err)
	}
	var sd struct{ Success bool }
	if err := json.Unmarshal(resp.Data, &sd); err != nil || !sd.Success {
		t.Fatalf("step down the consumer's leader: %s", resp.Data)
	}
	moved := time.Now()
	appendAll(t, qa, ids("s", 20, 40))
	waitDelivered(40)

	mu.Lock()
	defer mu.Unlock()
	var order []string
	for _, d := range got {
		order = append(order, d.id)
	}
	if diff := cmp.Diff(ids("s", 0, 40), order); diff != "" {
		t.Errorf("delivered, in order, each once (-want +got):\n%s", diff)
	}
	t.Logf("resumed %v after the move", got[20].at.Sub(moved))
	if d := got[20].at.Sub(moved); d > 2*time.Second {
		t.Errorf("first delivery %v after the leader moved, want within 2s (not after a pull interval of %v)", d, jsstore.PollEvery(cfg.PinnedTTL))
	}
}

// steal is a pull of another client with the holder's pin id.
type steal struct {
	sub *nats.Subscription
	nc  *nats.Conn
}

// stealDeliveries makes the next n deliveries of acme/lrs go to another
// client, which pulls them with the holder's pin id: what the holder sees
// when deliveries are lost with a dying server or a broken connection.
// The caller records statements, then waits for them with steal.wait.
func stealDeliveries(t *testing.T, url string, cfg jsstore.Config, n int) steal {
	t.Helper()
	js := testJetStream(t, url)
	nc := js.Conn()
	c, err := js.Consumer(context.Background(), cfg.Stream, jsstore.ConsumerName("acme", "lrs"))
	if err != nil {
		t.Fatal(err)
	}
	var pin string
	for _, g := range c.CachedInfo().PriorityGroups {
		pin = g.PinnedClientID
	}
	if pin == "" {
		t.Fatal("the queue holds no pin after delivering")
	}
	stolen, err := nc.SubscribeSync(nats.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]any{"batch": n, "expires": int64(10 * time.Second), "group": "lrsbridge", "id": pin})
	if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+cfg.Stream+"."+jsstore.ConsumerName("acme", "lrs"), stolen.Subject, req); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return steal{sub: stolen, nc: nc}
}

// wait waits until the stealing pull got n deliveries.
func (s steal) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		if _, err := s.sub.NextMsg(30 * time.Second); err != nil {
			t.Fatalf("the stealing pull got nothing: %v", err)
		}
	}
}

// end takes the stealing pull's interest away, as a broken connection
// would: the servers deliver nothing more to it, whatever of its batch is
// left.
func (s steal) end(t *testing.T) {
	t.Helper()
	if err := s.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestReconnectRule loses deliveries as a connection that broke would
// (another client pulls statements with the holder's pin), and
// nothing else is recorded, so no later delivery shows the gap. When the
// holder's connection comes back it resets the consumer and delivers them,
// instead of waiting for AckWait (5 minutes here).
func TestReconnectRule(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	cfg.PinnedTTL = 30 * time.Second // a keepalive pull every 4 s at most: none during the theft
	cfg.AckWait = 5 * time.Minute
	s := openStore(t, cfg)
	q, err := s.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, ids("s", 0, 5))
	if err := q.Ack(entrySeqs(takeN(t, q, 5))...); err != nil {
		t.Fatal(err)
	}

	stolen := stealDeliveries(t, srv.URL(), cfg, 2)
	appendAll(t, q, ids("s", 5, 7))
	// A pull the holder still had under way may get one of the two; it
	// is in its buffer then, and the other is lost all the same. The
	// stealing pull then goes, or what is left of its batch could take a
	// redelivery meant for the holder after its reset.
	stolen.wait(t, 1)
	stolen.end(t)

	if err := s.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids("s", 5, 7), entryIDs(takeN(t, q, 2))); diff != "" {
		t.Errorf("after the reconnection (-want +got):\n%s", diff)
	}
}

// TestRetryEvery checks how soon an instance asks again while a
// consumer has no leader: well within a pull interval, so that delivery
// resumes right after the election, but not in a tight loop.
func TestRetryEvery(t *testing.T) {
	for _, tc := range []struct {
		every, want time.Duration
	}{
		{100 * time.Millisecond, 50 * time.Millisecond},
		{time.Second, 250 * time.Millisecond},
		{4 * time.Second, 500 * time.Millisecond}, // the default pinned_ttl's pull interval
	} {
		if got := jsstore.RetryEvery(tc.every); got != tc.want {
			t.Errorf("RetryEvery(%v) = %v, want %v", tc.every, got, tc.want)
		}
	}
}
