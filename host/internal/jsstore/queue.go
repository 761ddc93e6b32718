package jsstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// priorityGroup is the pinned consumers' priority group.
const priorityGroup = "lrsbridge"

const hdrPinID = "Nats-Pin-Id"

// held is an entry of a delivered message.
type held struct {
	msg *nats.Msg
	e   queue.Entry
	ack *msgAck // shared by the entries of one delivery of a message
}

// msgAck counts the entries of a delivered message not yet acknowledged:
// the message is acknowledged to the servers with its last entry.
type msgAck struct {
	left int
}

// jsQueue is the queue of one integration: a durable pull consumer with
// the pinned-client priority policy on the integration's subject.
//
// Messages arrive on one subscription per queue (so that nothing pulled is
// ever lost to a request that ended) and are kept in ready, sorted by
// stream sequence, until Next hands them out. Release puts entries back in
// ready, so they come again before any later entry without a round trip.
//
// Order across instances rests on two rules. Pin rule: when the pin id on
// delivered messages differs from the one this queue saw last (this
// instance just became the holder), the consumer is reset to its ack floor
// before anything is handed out, so the statements a previous holder had
// not acknowledged come first. Gap rule: when a delivery sequence is not
// the one after the last (a delivery was lost, for example when a server
// died), the same. Reconnect rule: when the connection comes back after it
// broke, a holder does the same (deliveries may have been lost with it,
// and no later delivery may come to show the gap). Acknowledged rule: a
// statement acknowledged through this queue and delivered again (the
// acknowledgement did not take) is acknowledged again, not handed out.
type jsQueue struct {
	s        *Store
	key      queue.Key
	subject  string
	cname    string
	pullSubj string
	inbox    string
	sub      *nats.Subscription
	every    time.Duration // pull request lifetime and keepalive period

	mu         sync.Mutex // guards everything below
	ready      []held
	out        map[uint64]held
	acked      map[uint64]struct{}
	pin        string
	expect     uint64 // next consumer delivery sequence; 0 = not known
	needReset  bool   // a reset is due before anything is handed out
	resetting  bool   // a reset request is running
	resetBuf   []delivery
	resetAgain bool // the connection broke while a reset ran: another is due
	awaitFirst bool // after a reset: waiting for delivery sequence 1
	strays     bool // deliveries were dropped while awaitFirst
	lastPull   time.Time
	closed     bool
	stats      queue.Stats
	statsAt    time.Time

	wake chan struct{} // capacity 1: something changed for a waiting Next
	done chan struct{} // closed by Close
	wg   sync.WaitGroup
}

var _ queue.Queue = (*jsQueue)(nil)

// maxAckedKept bounds the memory of acknowledged sequence numbers, which
// lets Ack tell "acknowledged twice" (no error) from "never handed out".
const maxAckedKept = 1 << 16

// statsTTL is how long Stats reuses a figure when nothing changed through
// this instance.
const statsTTL = 250 * time.Millisecond

func newQueue(s *Store, key queue.Key, subject, cname string) (*jsQueue, error) {
	q := &jsQueue{
		s: s, key: key, subject: subject, cname: cname,
		pullSubj: "$JS.API.CONSUMER.MSG.NEXT." + s.cfg.Stream + "." + cname,
		inbox:    s.nc.NewInbox(),
		every:    pollEvery(s.cfg.PinnedTTL),
		out:      map[uint64]held{},
		acked:    map[uint64]struct{}{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	sub, err := s.nc.Subscribe(q.inbox, q.onMsg)
	if err != nil {
		return nil, err
	}
	q.sub = sub
	q.wg.Add(1)
	go q.keepalive()
	return q, nil
}

// maxPollEvery caps how long a waiting instance goes without asking the
// servers for an integration's statements and checking whether a dead
// instance left it: with it, a takeover after a holder died comes within
// pinned_ttl + 4 s (+ one round trip), also for a long pinned_ttl.
const maxPollEvery = 4 * time.Second

// pollEvery is the interval of an instance's pulls (and a holder's
// keepalive pulls) and of a waiting instance's checks for an integration
// left by a dead instance: a third of ttl, so that a holder renews its pin
// well within ttl, between 100 ms and maxPollEvery.
func pollEvery(ttl time.Duration) time.Duration {
	return min(max(ttl/3, 100*time.Millisecond), maxPollEvery)
}

func (q *jsQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// delivery is a parsed delivered message.
type delivery struct {
	m   *nats.Msg
	md  *nats.MsgMetadata
	pin string
}

// onMsg receives everything pulled for this queue.
func (q *jsQueue) onMsg(m *nats.Msg) {
	if status := m.Header.Get("Status"); len(m.Data) == 0 && status != "" {
		q.onStatus(status, m.Header.Get("Description"))
		return
	}
	md, err := m.Metadata()
	if err != nil {
		return // not a JetStream delivery
	}
	d := delivery{m: m, md: md, pin: m.Header.Get(hdrPinID)}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.needReset {
		// Before the reset request, what arrives was delivered before
		// it: it comes again. While the request runs, deliveries from
		// before and after the reset may arrive before its answer; keep
		// them for finishReset to sort out.
		if q.resetting {
			q.resetBuf = append(q.resetBuf, d)
		}
		return
	}
	q.acceptLocked(d)
}

// onStatus handles a status answer to a pull request.
//
// 423 (pin id mismatch): another instance holds the integration now, or
// the consumer's leader changed and does not know this instance's pin.
// 409 "Leadership Change": the consumer has a new leader, which dropped
// every pull request and pin (pins are not replicated). 503 (no
// responders): the consumer has no leader for now, its server went away.
// In each case a pin this instance had is gone: what it buffered goes to
// whichever instance pulls first, and it stops handing it out. It pulls
// again at once after a leadership change, and soon (retryEvery) while
// there is no leader, rather than after a whole pull interval, so that
// delivery resumes as soon as the new leader is elected.
func (q *jsQueue) onStatus(status, desc string) {
	switch {
	case status == "423":
		q.lostPin("another instance holds it, or its consumer's leader changed")
	case status == "409" && desc == "Leadership Change":
		q.lostPin("its consumer's leader changed")
		q.signal()
	case status == "503":
		q.lostPin("its consumer has no leader")
		time.AfterFunc(retryEvery(q.every), q.signal)
	}
}

// lostPin forgets this instance's pin and drops what it buffered, which
// the servers hand to the next holder (or to this instance again, after a
// reset by the pin rule). Entries handed out stay handed out: their
// acknowledgement still counts, and if it does not take, they may come
// again.
func (q *jsQueue) lostPin(why string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pin != "" {
		q.s.log.Debug("integration no longer held by this instance: "+why, "org", q.key.Org, "sink", q.key.Sink, "dropped", len(q.ready))
	}
	q.pin = ""
	q.ready = nil
	q.expect = 0
	// A reset this instance wanted as holder is moot now, and done later
	// (once the servers answer again) it would disturb the next holder:
	// its batch in flight would be sent again. A running reset gives up at
	// its next retry. Whoever holds the integration next resets it by the
	// pin rule.
	q.needReset, q.resetAgain = false, false
	q.awaitFirst, q.strays = false, false
}

// reconnected marks a reset when this instance holds the integration and
// its connection broke: deliveries may have been lost with it (the
// reconnect rule, see Store.reconnected).
func (q *jsQueue) reconnected() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.resetting {
		q.resetAgain = true
		return
	}
	if q.closed || q.pin == "" || q.needReset {
		return
	}
	q.s.log.Debug("connection to NATS restored: reset to the acknowledged floor", "org", q.key.Org, "sink", q.key.Sink)
	q.markReset()
}

// retryEvery is how soon a pull is repeated after the servers answered
// that the consumer has no leader: a quarter of the pull interval, between
// 50 ms and 500 ms.
func retryEvery(every time.Duration) time.Duration {
	return min(max(every/4, 50*time.Millisecond), 500*time.Millisecond)
}

// acceptLocked applies the pin and gap rules to a delivery and buffers it.
func (q *jsQueue) acceptLocked(d delivery) {
	if q.needReset {
		return
	}
	cseq := d.md.Sequence.Consumer
	if q.awaitFirst {
		// After a reset the consumer delivers again from delivery
		// sequence 1; anything else is from before it.
		if cseq != 1 {
			q.strays = true
			return
		}
		q.awaitFirst, q.strays = false, false
		q.expect = 1
	}
	if d.pin != q.pin {
		q.s.log.Debug("integration held by this instance: reset to its acknowledged floor", "org", q.key.Org, "sink", q.key.Sink)
		q.pin = d.pin
		q.markReset()
		return
	}
	if q.expect != 0 && cseq != q.expect {
		q.s.log.Debug("gap in deliveries: reset to the acknowledged floor", "org", q.key.Org, "sink", q.key.Sink, "expected", q.expect, "got", cseq)
		q.markReset()
		return
	}
	q.expect = cseq + 1
	es, err := messageEntries(q.key, q.s.cfg.Stream, d.md.Sequence.Stream, d.md.Timestamp, d.m.Header, d.m.Data)
	if err != nil {
		// Left unacknowledged and not handed out: the servers keep it
		// (and deliver it again after AckWait, logged again).
		q.s.log.Error("queue message cannot be read", "org", q.key.Org, "sink", q.key.Sink, "err", err)
		return
	}
	ack := &msgAck{}
	for _, e := range es {
		if _, ok := q.acked[e.Seq]; ok {
			continue // delivered again after this instance acknowledged the entry
		}
		ack.left++
		h := held{msg: d.m, e: e, ack: ack}
		if _, ok := q.out[e.Seq]; ok {
			q.out[e.Seq] = h // delivered again while handed out: ack through the newest delivery
			continue
		}
		q.insertReady(h)
	}
	if ack.left == 0 {
		// Every entry was acknowledged through an earlier delivery.
		_ = q.s.nc.Publish(d.m.Reply, []byte("+ACK"))
		return
	}
	q.signal()
}

// finishResetLocked ends a successful reset: the deliveries that arrived
// while it ran are replayed from the last one with delivery sequence 1
// (the first after the reset); without one, the queue waits for it.
func (q *jsQueue) finishResetLocked() {
	buf := q.resetBuf
	q.resetBuf = nil
	if q.resetAgain {
		// The first deliveries after this reset may have gone with the
		// broken connection, and awaitFirst would wait for them forever.
		q.resetAgain, q.resetting = false, false
		q.signal()
		return
	}
	q.needReset, q.resetting = false, false
	q.ready = nil
	q.expect = 0
	q.awaitFirst, q.strays = true, false
	first := -1
	for i, d := range buf {
		if d.md.Sequence.Consumer == 1 {
			first = i
		}
	}
	if first < 0 {
		return
	}
	for _, d := range buf[first:] {
		q.acceptLocked(d)
	}
}

// markReset drops what is buffered and asks the next Next to reset the
// consumer to its ack floor.
func (q *jsQueue) markReset() {
	q.needReset = true
	q.ready = nil
	q.expect = 0
	q.signal()
}

func (q *jsQueue) insertReady(h held) {
	i, found := slices.BinarySearchFunc(q.ready, h.e.Seq, func(a held, seq uint64) int {
		switch {
		case a.e.Seq < seq:
			return -1
		case a.e.Seq > seq:
			return 1
		}
		return 0
	})
	if found {
		q.ready[i] = h
		return
	}
	q.ready = slices.Insert(q.ready, i, h)
}

// pullRequest is the body of a JetStream pull request.
type pullRequest struct {
	Batch   int           `json:"batch"`
	Expires time.Duration `json:"expires,omitempty"`
	Group   string        `json:"group"`
	PinID   string        `json:"id,omitempty"`
}

// pullLocked asks the servers for up to n messages, delivered to the
// queue's subscription within q.every.
func (q *jsQueue) pullLocked(n int) {
	b, _ := json.Marshal(pullRequest{Batch: n, Expires: q.every, Group: priorityGroup, PinID: q.pin})
	q.lastPull = time.Now()
	// A failed publish (disconnected) is retried by the next pull.
	_ = q.s.nc.PublishRequest(q.pullSubj, q.inbox, b)
}

// Append implements queue.Queue.
func (q *jsQueue) Append(ctx context.Context, items []queue.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	if len(items) > maxBatch {
		return fmt.Errorf("%w: %d statements in one call, at most %d", queue.ErrTooLarge, len(items), maxBatch)
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return queue.ErrClosed
	}
	settle, err := q.s.reserve(ctx, q.key.Org, q.subject, len(items))
	if err != nil {
		return err
	}
	err = q.s.pub.publish(q.subject, items)
	settle(err == nil)
	q.invalidate()
	if err == nil {
		return nil
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.full() {
		return q.s.quotaError(q.key.Org, q.subject, len(items), ae)
	}
	if errors.Is(err, errPublisherClosed) {
		return queue.ErrClosed
	}
	if errors.Is(err, queue.ErrTooLarge) {
		return err
	}
	return fmt.Errorf("queue statements for %s/%s: %w", q.key.Org, q.key.Sink, err)
}

// Next implements queue.Queue.
func (q *jsQueue) Next(ctx context.Context, maxItems int, maxBytes int64) ([]queue.Entry, error) {
	var timer *time.Timer
	lingered := 0
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, queue.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			q.mu.Unlock()
			return nil, err
		}
		if q.needReset && !q.resetting {
			q.resetting = true
			q.mu.Unlock()
			q.reset(ctx)
			continue
		}
		if len(q.ready) > 0 && !q.needReset {
			if lingered < linger && (maxItems <= 0 || len(q.ready) < maxItems) {
				// A pull's messages arrive one after another: give
				// the rest of them a moment to join this batch.
				q.mu.Unlock()
				lingered++
				select {
				case <-q.wake:
				case <-time.After(200 * time.Microsecond):
					lingered = linger
				}
				continue
			}
			es := q.takeLocked(maxItems, maxBytes)
			q.mu.Unlock()
			return es, nil
		}
		n := maxItems
		if n <= 0 || n > q.s.cfg.MaxAckPending {
			n = min(256, q.s.cfg.MaxAckPending)
		}
		if !q.needReset {
			q.pullLocked(n)
		}
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(q.every)
		} else {
			timer.Reset(q.every)
		}
		select {
		case <-q.wake:
		case <-timer.C:
			// Every idle interval, not less often: the takeover after
			// a holder died waits for this check when nothing new is
			// recorded for the integration.
			q.adoptOrphans(ctx)
			q.resetLostFirst()
		case <-ctx.Done():
		case <-q.done:
		}
	}
}

// adoptOrphans handles statements handed to an instance that died when no
// pull can get anything: the servers pin a new holder only when they
// deliver, so if nothing new is pending, statements the dead holder had not
// acknowledged would wait for AckWait. A waiting instance that finds the
// consumer in that state (see orphaned) resets it, and they are delivered
// again at once, to the first instance that pulls, which becomes the
// holder. When statements are pending, the next pull gets them and its
// instance resets the consumer by the pin rule: waiting instances leave it
// alone. A live holder keeps its pin by pulling, so it is never disturbed.
func (q *jsQueue) adoptOrphans(ctx context.Context) {
	q.mu.Lock()
	holding := q.pin != ""
	q.mu.Unlock()
	if holding {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := q.s.js.Consumer(ictx, q.s.cfg.Stream, q.cname)
	if err != nil {
		return
	}
	info := c.CachedInfo()
	if !orphaned(info) {
		return
	}
	q.mu.Lock()
	if q.needReset || q.closed {
		q.mu.Unlock()
		return
	}
	q.s.log.Debug("integration left by an instance: reset to its acknowledged floor", "org", q.key.Org, "sink", q.key.Sink, "handed_out", info.NumAckPending)
	q.markReset()
	q.mu.Unlock()
}

// orphaned reports whether a consumer needs a waiting instance's reset to
// be delivered before AckWait: no instance holds it, statements are
// handed out, and a pull would get nothing, because nothing else is
// pending or MaxAckPending statements are handed out already. In any
// other state waiting instances leave it alone: with statements pending,
// the next pull's instance becomes the holder and resets it itself, and
// another reset would only make the holder's batch come again.
func orphaned(info *jetstream.ConsumerInfo) bool {
	if info.NumAckPending == 0 {
		return false
	}
	for _, g := range info.PriorityGroups {
		if g.PinnedClientID != "" {
			return false
		}
	}
	return info.NumPending == 0 || (info.Config.MaxAckPending > 0 && info.NumAckPending >= info.Config.MaxAckPending)
}

// resetLostFirst resets again when, a whole pull interval after a reset,
// its first delivery has not come but later ones did: it was lost (with a
// broken connection or a dying server), and the queue would otherwise
// drop every later delivery until AckWait.
func (q *jsQueue) resetLostFirst() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.awaitFirst || !q.strays || q.needReset || q.closed {
		return
	}
	q.s.log.Debug("first delivery after a reset lost: reset again", "org", q.key.Org, "sink", q.key.Sink)
	q.awaitFirst, q.strays = false, false
	q.markReset()
}

// linger bounds how many arrivals Next waits for to fill a batch.
const linger = 64

// takeLocked hands out entries from the head of ready: whole messages
// while they fit the limits, so that the entries of a message are
// acknowledged together; a first message larger than the limits is split
// (at least one entry).
func (q *jsQueue) takeLocked(maxItems int, maxBytes int64) []queue.Entry {
	var es []queue.Entry
	var size int64
	fits := func(n int, b int64) bool {
		return (maxItems <= 0 || len(es)+n <= maxItems) && (maxBytes <= 0 || size+b <= maxBytes)
	}
	i := 0
	for i < len(q.ready) {
		// The entries of the message at i that are ready.
		j, b := i, int64(0)
		for ; j < len(q.ready) && q.ready[j].ack == q.ready[i].ack; j++ {
			b += int64(len(q.ready[j].e.ID) + len(q.ready[j].e.Data))
		}
		if !fits(j-i, b) {
			if len(es) > 0 {
				break
			}
			// Split: as many as fit, at least one.
			for j = i; j < len(q.ready); j++ {
				n := int64(len(q.ready[j].e.ID) + len(q.ready[j].e.Data))
				if j > i && !fits(1, n) {
					break
				}
				es = append(es, q.ready[j].e)
				size += n
				q.out[q.ready[j].e.Seq] = q.ready[j]
			}
			i = j
			break
		}
		for ; i < j; i++ {
			es = append(es, q.ready[i].e)
			q.out[q.ready[i].e.Seq] = q.ready[i]
		}
		size += b
	}
	q.ready = slices.Delete(q.ready, 0, i)
	return es
}

// reset moves the consumer back to its ack floor, retrying until it
// succeeds, the queue closes or ctx ends.
func (q *jsQueue) reset(ctx context.Context) {
	backoff := 20 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := q.s.js.ResetConsumer(rctx, q.s.cfg.Stream, q.cname)
		cancel()
		q.mu.Lock()
		if err == nil || q.closed || ctx.Err() != nil || !q.needReset {
			abandoned := !q.needReset
			if err == nil {
				q.finishResetLocked()
			} else {
				q.resetting = false
				q.resetBuf = nil
			}
			q.mu.Unlock()
			switch {
			case err != nil && abandoned:
				q.s.log.Debug("reset given up: the integration is no longer held by this instance", "org", q.key.Org, "sink", q.key.Sink, "err", err)
			case err != nil:
				q.s.log.Warn("reset consumer", "org", q.key.Org, "sink", q.key.Sink, "err", err)
			}
			return
		}
		q.mu.Unlock()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		case <-q.done:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// keepalive keeps the pin while this instance holds it and its worker is
// not pulling (backing off, paused, or busy with a slow sink): the servers
// renew a pin only on new pull requests. It also keeps buffered and
// handed-out messages from being redelivered after AckWait.
func (q *jsQueue) keepalive() {
	defer q.wg.Done()
	t := time.NewTicker(q.every / 2)
	defer t.Stop()
	progress := time.Now()
	for {
		select {
		case <-q.done:
			return
		case <-t.C:
		}
		q.mu.Lock()
		if q.pin != "" && time.Since(q.lastPull) >= q.every && !q.needReset {
			q.pullLocked(1)
		}
		var replies []string
		if time.Since(progress) >= q.s.cfg.AckWait/3 {
			progress = time.Now()
			for _, h := range q.ready {
				replies = append(replies, h.msg.Reply)
			}
			for _, h := range q.out {
				replies = append(replies, h.msg.Reply)
			}
		}
		q.mu.Unlock()
		for _, r := range replies {
			_ = q.s.nc.Publish(r, []byte("+WPI"))
		}
	}
}

// Ack implements queue.Queue. It returns once the servers confirmed every
// acknowledgement (in a cluster, a batch of acks can otherwise be lost with
// a consumer leader that stops, and its statements delivered again).
func (q *jsQueue) Ack(seqs ...uint64) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	var replies []string
	var unknown []uint64
	newly := 0
	for _, seq := range seqs {
		if h, ok := q.out[seq]; ok {
			delete(q.out, seq)
			newly++
			h.ack.left--
			if h.ack.left == 0 {
				replies = append(replies, h.msg.Reply)
			}
			if len(q.acked) >= maxAckedKept {
				clear(q.acked)
			}
			q.acked[seq] = struct{}{}
			continue
		}
		if _, ok := q.acked[seq]; !ok {
			unknown = append(unknown, seq)
		}
	}
	q.mu.Unlock()
	var err error
	if len(replies) > 0 {
		if aerr := q.s.ackAll(replies); aerr != nil {
			if errors.Is(aerr, errNoLeader) {
				q.lostPin("its consumer has no leader")
			}
			err = fmt.Errorf("acknowledge statements of %s/%s: %w (they may be delivered again)", q.key.Org, q.key.Sink, aerr)
		}
	}
	if newly > 0 {
		q.s.acked(q.key.Org, q.subject, newly)
		q.invalidate()
	}
	if len(unknown) > 0 {
		err = errors.Join(err, fmt.Errorf("%w: %v", queue.ErrUnknownSeq, unknown))
	}
	return err
}

// Release implements queue.Queue: the entries go back to the buffer, in
// stream order, before any later entry.
func (q *jsQueue) Release(seqs ...uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, seq := range seqs {
		if h, ok := q.out[seq]; ok {
			delete(q.out, seq)
			if !q.needReset {
				q.insertReady(h)
			}
		}
	}
	q.signal()
}

func (q *jsQueue) invalidate() {
	q.mu.Lock()
	q.statsAt = time.Time{}
	q.mu.Unlock()
}

// Stats implements queue.Queue. Pending and Oldest are read from the
// servers (whichever instance appended or delivered); PendingBytes is
// Pending times the stream's mean message size, an approximation. A
// figure is reused for 250 ms unless this instance appended or
// acknowledged meanwhile. On error the last figure is returned.
func (q *jsQueue) Stats() queue.Stats {
	q.mu.Lock()
	if !q.statsAt.IsZero() && time.Since(q.statsAt) < statsTTL {
		st := q.stats
		q.mu.Unlock()
		return st
	}
	q.mu.Unlock()
	st, err := q.s.subjectStats(q.key.Org, q.subject)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		return q.stats
	}
	q.stats, q.statsAt = st, time.Now()
	return st
}

// Close implements queue.Queue. If this instance holds the integration,
// it lets go at once so that another instance takes over without waiting
// for PinnedTTL.
func (q *jsQueue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.done)
	pin := q.pin
	var hs []held
	hs = append(hs, q.ready...)
	for _, h := range q.out {
		hs = append(hs, h)
	}
	q.ready, q.out = nil, map[uint64]held{}
	q.mu.Unlock()
	// Hand back what this instance held, oldest first, so that the next
	// holder gets it at once rather than after AckWait.
	slices.SortFunc(hs, func(a, b held) int { return cmp.Compare(a.e.Seq, b.e.Seq) })
	for _, h := range hs {
		_ = q.s.nc.Publish(h.msg.Reply, []byte("-NAK"))
	}
	q.wg.Wait()
	err := q.sub.Unsubscribe()
	if pin != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if s, serr := q.s.js.Stream(ctx, q.s.cfg.Stream); serr == nil {
			_ = s.UnpinConsumer(ctx, q.cname, priorityGroup)
		}
		cancel()
	}
	q.s.forget(q)
	if errors.Is(err, nats.ErrConnectionClosed) {
		err = nil
	}
	return err
}
