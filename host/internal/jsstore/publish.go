package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// maxBatch is the servers' limit on messages in one atomic batch
// (JetStream's default max_batch_size).
const maxBatch = 1000

// committers is how many publishes a publisher keeps in flight at once;
// the servers allow 50 atomic batches in flight per stream.
const committers = 16

// groupCommitters is how many grouped batches are in flight at once.
const groupCommitters = 2

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

// pubMsg is one message of an Append.
type pubMsg struct {
	subject, statementID, msgID string
	data                        []byte
}

// pubReq is one Append waiting for its batch to commit.
type pubReq struct {
	msgs []pubMsg
	done chan error
}

// publisher commits Appends: one statement as a plain publish, several as
// one atomic batch. With group commit it groups concurrent Appends (of any
// queue of the stream) into one batch of at most maxBatch messages. When
// the servers refuse a grouped batch because of a limit, each Append of it
// is committed alone, so that every Append keeps its own all-or-nothing
// outcome.
type publisher struct {
	nc      *nats.Conn
	timeout time.Duration
	group   bool
	window  time.Duration
	reqs    chan *pubReq
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newPublisher(nc *nats.Conn, timeout time.Duration, group bool, window time.Duration) *publisher {
	p := &publisher{nc: nc, timeout: timeout, group: group, window: window, reqs: make(chan *pubReq, 1024), quit: make(chan struct{})}
	n := committers
	if group {
		// Fewer commits in flight let concurrent Appends wait together
		// and share one.
		n = groupCommitters
	}
	for range n {
		p.wg.Add(1)
		go p.run()
	}
	return p
}

// publish commits msgs atomically and returns nil once the servers
// stored them (or had stored them: a retry of a committed batch).
func (p *publisher) publish(msgs []pubMsg) error {
	r := &pubReq{msgs: msgs, done: make(chan error, 1)}
	select {
	case p.reqs <- r:
	case <-p.quit:
		return errPublisherClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-p.quit:
		// run answers every request it took before it stops.
		select {
		case err := <-r.done:
			return err
		default:
			return errPublisherClosed
		}
	}
}

var errPublisherClosed = errors.New("publisher closed")

func (p *publisher) close() {
	close(p.quit)
	p.wg.Wait()
}

func (p *publisher) run() {
	defer p.wg.Done()
	var carry *pubReq
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-p.reqs:
			case <-p.quit:
				return
			}
		}
		group := []*pubReq{first}
		if p.group {
			group, carry = p.collect(group, len(first.msgs))
		}
		p.commitGroup(group)
	}
}

// collect adds the Appends waiting (or, with a window, arriving within it)
// to group, up to maxBatch messages; the first one that does not fit is
// returned as carry for the next group.
func (p *publisher) collect(group []*pubReq, n int) (_ []*pubReq, carry *pubReq) {
	var window <-chan time.Time
	if p.window > 0 {
		t := time.NewTimer(p.window)
		defer t.Stop()
		window = t.C
	}
	for n < maxBatch {
		var r *pubReq
		if window != nil {
			select {
			case r = <-p.reqs:
			case <-window:
				return group, nil
			}
		} else {
			select {
			case r = <-p.reqs:
			default:
				return group, nil
			}
		}
		if n+len(r.msgs) > maxBatch {
			return group, r
		}
		group = append(group, r)
		n += len(r.msgs)
	}
	return group, nil
}

func (p *publisher) commitGroup(group []*pubReq) {
	if len(group) == 1 {
		group[0].done <- p.commit(group[0].msgs)
		return
	}
	var all []pubMsg
	for _, r := range group {
		all = append(all, r.msgs...)
	}
	err := p.commit(all)
	var ae *apiError
	if errors.As(err, &ae) && ae.full() {
		for _, r := range group {
			r.done <- p.commit(r.msgs)
		}
		return
	}
	for _, r := range group {
		r.done <- err
	}
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
		nm.Header.Set(hdrStatementID, m.statementID)
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
