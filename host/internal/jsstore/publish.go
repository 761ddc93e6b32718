package jsstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// maxBatch is the servers' limit on messages in one atomic batch
// (JetStream's default max_batch_size).
const maxBatch = 1000

// Headers the backend sets on queued and dead-lettered statements.
const (
	hdrStatementID = "Lrs-Id"
	hdrMsgID       = "Nats-Msg-Id"
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// JetStream API error codes the backend branches on.
const (
	codeNotLeader        = 10009
	codeInsufficientRes  = 10023
	codeResourcesLimit   = 10047
	codeMaxMsgsOrBytes   = 10077
	codeIncompleteBatch  = 10176
	codeDuplicateInBatch = 10201
	codeTooManyInflight  = 10210
)

// apiError is an error answer of the servers to a publish.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return "jetstream: " + e.Description + " (" + strconv.Itoa(e.ErrCode) + ")"
}

// full reports whether the servers refused a batch because a limit
// (per-subject messages, stream bytes, storage) would be exceeded.
func (e *apiError) full() bool {
	switch e.ErrCode {
	case codeMaxMsgsOrBytes, codeInsufficientRes, codeResourcesLimit:
		return true
	}
	return false
}

// transient reports whether an error leaves a publish worth retrying.
func transient(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.full() {
			return false
		}
		switch ae.ErrCode {
		case codeNotLeader, codeIncompleteBatch, codeTooManyInflight:
			return true
		}
		return ae.Code == 503
	}
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected)
}

// errOutcomeUnknown is wrapped when the servers did not answer a publish
// within the publish timeout: the statements may or may not be stored.
var errOutcomeUnknown = errors.New("no answer from the NATS servers: the statements may or may not be queued")

// pubMsg is one message to publish: framed items (see encodeItems).
type pubMsg struct {
	subject, msgID string
	data           []byte
}

// call is one Append waiting for the message (or atomic batch) holding its
// items to be stored.
type call struct {
	items []queue.Item
	size  int // framed size, at most
	done  chan error
}

// maxInflight is how many messages of one queue are published at once.
// Measured on one server that syncs every write: with two, messages held
// fewer statements and 8 producers recorded two to five times slower.
const maxInflight = 1

// publisher commits Appends. Concurrent Appends to one queue share one
// message (group commit): while a queue's message is being published,
// the Appends that arrive wait together and go out
// as the next message, whole calls only, within maxMsgItems items and
// maxBytes bytes. An Append whose items do not fit in one message is
// published alone, as one atomic batch of several messages. A lone Append
// is published at once. When the servers refuse a shared message because
// of a limit, each Append of it is committed alone, so that every Append
// keeps its own all-or-nothing outcome.
type publisher struct {
	nc       *nats.Conn
	timeout  time.Duration
	group    bool
	window   time.Duration
	maxBytes int
	quit     chan struct{}
	wg       sync.WaitGroup

	mu     sync.Mutex // guards queues and closed
	queues map[string]*coalescer
	closed bool
}

// coalescer gathers the Appends of one queue subject.
type coalescer struct {
	p       *publisher
	subject string

	arrived chan struct{} // capacity 1: an Append joined waiting

	mu      sync.Mutex // guards waiting, runners and expect
	waiting []*call
	runners int
	// expect is how many Appends were under way when the last message
	// was stored (its own and those waiting): producers that record
	// again as soon as they are answered come back within moments.
	expect int
}

// maxRegroup bounds how long a message waits for the producers of the
// previous one to come back.
const maxRegroup = time.Millisecond

// hdrRoom is what a message's headers may take of the servers' maximum
// payload.
const hdrRoom = 1 << 10

func newPublisher(nc *nats.Conn, timeout time.Duration, group bool, window time.Duration) *publisher {
	return &publisher{
		nc: nc, timeout: timeout, group: group, window: window,
		maxBytes: max(int(nc.MaxPayload())-hdrRoom, 4<<10),
		quit:     make(chan struct{}),
		queues:   map[string]*coalescer{},
	}
}

var errPublisherClosed = errors.New("publisher closed")

// publish stores items on the queue subject base, all or nothing, and
// returns nil once the servers stored them (or had stored them: a retry
// of a committed message).
func (p *publisher) publish(base string, items []queue.Item) error {
	c := &call{items: items, done: make(chan error, 1)}
	for _, it := range items {
		n := itemSize(it)
		if n+binary.MaxVarintLen64 > p.maxBytes {
			return fmt.Errorf("%w: statement %s takes %d bytes, more than the NATS servers' max_payload allows", queue.ErrTooLarge, it.ID, n)
		}
		c.size += n
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPublisherClosed
	}
	co := p.queues[base]
	if co == nil {
		co = &coalescer{p: p, subject: base, arrived: make(chan struct{}, 1)}
		p.queues[base] = co
	}
	co.mu.Lock()
	co.waiting = append(co.waiting, c)
	select {
	case co.arrived <- struct{}{}:
	default:
	}
	if co.runners < maxInflight {
		co.runners++
		p.wg.Add(1) // under p.mu: never after close's Wait began
		go co.run()
	}
	co.mu.Unlock()
	p.mu.Unlock()
	return <-c.done
}

// close waits for the messages being published; Appends after it fail.
func (p *publisher) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	close(p.quit)
	p.wg.Wait()
}

// run publishes the queue's waiting Appends until there are none.
//
// Producers that wait for their Append and then record again (the host's
// callers) would otherwise settle into two halves taking turns, each
// message holding half of them: while one message is stored, the other
// half waits. So after a message, the runner waits for the Appends it just
// answered to come back, for up to half the time the message took to
// store (at most maxRegroup), and the next message holds them all. A lone
// producer is not delayed by this: its own return ends the wait.
func (c *coalescer) run() {
	defer c.p.wg.Done()
	var took time.Duration
	for {
		if c.p.window > 0 && c.p.group {
			select {
			case <-time.After(c.p.window):
			case <-c.p.quit:
			}
		} else if c.p.group && took > 0 {
			c.regroup(min(took/2, maxRegroup))
		}
		c.mu.Lock()
		if len(c.waiting) == 0 {
			c.runners--
			idle := c.runners == 0
			c.mu.Unlock()
			if idle {
				c.p.forget(c)
			}
			return
		}
		group := c.takeLocked()
		c.mu.Unlock()
		began := time.Now()
		c.p.commitGroup(c.subject, group)
		took = time.Since(began)
		c.mu.Lock()
		c.expect = len(group) + len(c.waiting)
		c.mu.Unlock()
	}
}

// regroup waits up to d for as many Appends to wait as c.expect.
func (c *coalescer) regroup(d time.Duration) {
	var timer *time.Timer
	for {
		c.mu.Lock()
		enough := len(c.waiting) >= c.expect
		c.mu.Unlock()
		if enough {
			break
		}
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		select {
		case <-c.arrived:
		case <-timer.C:
			return
		case <-c.p.quit:
			return
		}
	}
}

// takeLocked takes the next message's Appends from the head of waiting:
// the first one, and those after it that fit (with group commit).
func (c *coalescer) takeLocked() []*call {
	n, size := len(c.waiting[0].items), c.waiting[0].size
	i := 1
	for ; c.p.group && i < len(c.waiting); i++ {
		w := c.waiting[i]
		if n+len(w.items) > maxMsgItems || size+w.size+binary.MaxVarintLen64 > c.p.maxBytes {
			break
		}
		n += len(w.items)
		size += w.size
	}
	group := slices.Clone(c.waiting[:i])
	c.waiting = slices.Delete(c.waiting, 0, i)
	return group
}

// forget drops an idle coalescer.
func (p *publisher) forget(c *coalescer) {
	p.mu.Lock()
	c.mu.Lock()
	if c.runners == 0 && len(c.waiting) == 0 && p.queues[c.subject] == c {
		delete(p.queues, c.subject)
	}
	c.mu.Unlock()
	p.mu.Unlock()
}

// commitGroup publishes the Appends of group and answers each.
func (p *publisher) commitGroup(base string, group []*call) {
	if len(group) == 1 {
		group[0].done <- p.commit(p.messages(base, group[0].items))
		return
	}
	var all []queue.Item
	for _, c := range group {
		all = append(all, c.items...)
	}
	err := p.commit(p.messages(base, all))
	var ae *apiError
	if errors.As(err, &ae) && ae.full() {
		for _, c := range group {
			c.done <- p.commit(p.messages(base, c.items))
		}
		return
	}
	for _, c := range group {
		c.done <- err
	}
}

// messages frames items as messages on the queue subject base: one when
// they fit, else as few as fit maxMsgItems and maxBytes each (published as
// one atomic batch). Message ids are a fresh random nonce, with the
// message's index when there are several, so that a retry of this publish
// is stored once and a later Append of the same statements (a dead-letter
// replay) is never taken for a duplicate.
func (p *publisher) messages(base string, items []queue.Item) []pubMsg {
	var parts [][]queue.Item
	from, size := 0, 0
	for i, it := range items {
		n := itemSize(it)
		if i > from && (i-from >= maxMsgItems || size+n+binary.MaxVarintLen64 > p.maxBytes) {
			parts = append(parts, items[from:i])
			from, size = i, 0
		}
		size += n
	}
	parts = append(parts, items[from:])
	nonce := nuidNext()
	msgs := make([]pubMsg, len(parts))
	for i, part := range parts {
		id := nonce
		if len(parts) > 1 {
			id = nonce + "." + strconv.Itoa(i)
		}
		msgs[i] = pubMsg{subject: framedSubject(base, len(part)), msgID: id, data: encodeItems(part)}
	}
	return msgs
}

// commit publishes msgs as one atomic batch, retrying transient failures
// with the same message ids until the publish timeout: the servers
// recognise a batch they already stored (error 10201), so a retry never
// stores twice.
func (p *publisher) commit(msgs []pubMsg) error {
	deadline := time.Now().Add(p.timeout)
	backoff := 20 * time.Millisecond
	var last error
	for {
		err := p.attempt(msgs, time.Until(deadline))
		if err == nil {
			return nil
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.ErrCode == codeDuplicateInBatch {
			return nil
		}
		if !transient(err) {
			return err
		}
		last = err
		if time.Until(deadline) <= backoff {
			return fmt.Errorf("%w: %w", errOutcomeUnknown, last)
		}
		select {
		case <-time.After(backoff):
		case <-p.quit:
			return fmt.Errorf("%w: %w", errOutcomeUnknown, last)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// pubAck is the servers' answer to a batch commit.
type pubAck struct {
	Error *apiError `json:"error,omitempty"`
	Seq   uint64    `json:"seq"`
	Count int       `json:"count"`
}

func (p *publisher) attempt(msgs []pubMsg, wait time.Duration) error {
	if len(msgs) == 0 {
		return nil
	}
	wait = min(max(wait, 100*time.Millisecond), 10*time.Second)
	id := nuid.Next()
	for i, m := range msgs {
		nm := nats.NewMsg(m.subject)
		nm.Data = m.data
		nm.Header.Set(hdrFormat, formatFramed)
		nm.Header.Set(hdrMsgID, m.msgID)
		if len(msgs) > 1 {
			// One message is stored whole or not at all without a
			// batch, which costs the servers a staging store.
			nm.Header.Set(hdrBatchID, id)
			nm.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		if i < len(msgs)-1 {
			if err := p.nc.PublishMsg(nm); err != nil {
				return err
			}
			continue
		}
		if len(msgs) > 1 {
			nm.Header.Set(hdrBatchCommit, "1")
		}
		resp, err := p.nc.RequestMsg(nm, wait)
		if err != nil {
			return err
		}
		if len(resp.Data) == 0 && resp.Header.Get("Status") == "503" {
			return nats.ErrNoResponders
		}
		var ack pubAck
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return fmt.Errorf("read publish answer: %w", err)
		}
		if ack.Error != nil {
			return ack.Error
		}
	}
	return nil
}
