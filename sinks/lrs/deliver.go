package lrs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// ErrNotAcknowledged is the (retryable) verdict of a statement that the LRS
// answered 200 for without listing its id. Sending it again is safe: an LRS
// that has it answers 409 or accepts the identical copy without change.
var ErrNotAcknowledged = errors.New("lrs did not acknowledge the statement")

// item is one statement on its way to the LRS.
type item struct {
	idx  int // index in the request
	body []byte
}

// delivery is the state of one Deliver call.
type delivery struct {
	s        *Sink
	items    []sdk.Statement
	verdicts []sdk.Verdict
	// final reports that at least one statement got a final verdict in
	// this call: delivered, already stored or permanent.
	final bool
	// decided marks the statements that have a verdict.
	decided []bool
}

func (d *delivery) decide(idx int, v sdk.Verdict) {
	d.verdicts[idx] = v
	d.decided[idx] = true
	if v.Err == nil || sdk.IsPermanent(v.Err) {
		d.final = true
	}
}

// Deliver posts the batch to the statements resource of the LRS, splitting it
// into requests of at most max_batch statements (and under a body size
// learned from 413 answers), and returns one verdict per statement:
//
//   - 200 with the statement ids: delivered; a statement whose id the LRS
//     did not list gets ErrNotAcknowledged (retryable).
//   - 400: the batch is bisected until each rejected statement is alone; it
//     gets a permanent verdict carrying the LRS's message and the others
//     are delivered.
//   - 409: for a single statement, already stored; in a batch, bisected
//     like 400.
//   - 413: the body size is remembered and the batch is split and resent;
//     a single statement that is too large is permanent.
//   - 401, 403, 429, 503, other statuses, network and policy errors stop
//     the delivery: they are returned as the error of Deliver (classified
//     sdk.Unauthenticated, sdk.Forbidden, sdk.RetryAfter or retryable)
//     when no statement got a final verdict (delivered, already stored or
//     permanent) in this call, and otherwise as the verdict of every
//     statement not yet decided, so that final verdicts are not lost.
//
// When every statement of a batch of two or more was rejected with 400, one
// authenticated read with the same headers tells a rejected request from
// rejected statements: if the LRS refuses that too, the batch gets a
// retryable error instead of permanent verdicts, so that a misconfigured LRS
// does not send everything to the dead letters.
//
// Statements with an id already seen earlier in the batch are not sent
// twice (an LRS rejects a batch with duplicate ids); they get the verdict of
// the first. For an xAPI 1.0.3 LRS, a statement carrying 2.0-only context
// properties is re-encoded for 1.0.3 before sending, unless the host marked
// it as already encoded for 1.0.3 ([sdk.Statement].EncodedFor).
//
// Deliver returns an error wrapping ctx.Err() once ctx is done. It is safe
// for concurrent use.
func (s *Sink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	if s.closed.Load() {
		return sdk.DeliverResponse{}, ErrClosed
	}
	n := len(req.Statements)
	if n == 0 {
		return sdk.DeliverResponse{}, nil
	}
	d := &delivery{s: s, items: req.Statements, verdicts: make([]sdk.Verdict, n), decided: make([]bool, n)}
	first := make(map[string]int, n)
	dupOf := make(map[int]int)
	items := make([]item, 0, n)
	for i, st := range req.Statements {
		if key := lowerID(st.ID); key != "" {
			if f, ok := first[key]; ok {
				dupOf[i] = f
				continue
			}
			first[key] = i
		}
		body, err := s.prepare(st)
		if err != nil {
			d.decide(i, sdk.Verdict{Err: err})
			continue
		}
		items = append(items, item{idx: i, body: body})
	}

	err := d.sendAll(ctx, items)
	if err == nil && len(items) > 1 && d.allRejected(items) {
		err = d.probeRequestLevel(ctx)
		if err != nil {
			// Nothing was stored: the verdicts are replaced by the
			// whole-batch error below.
			d.final = false
		}
	}
	if err != nil {
		if ctx.Err() != nil || !d.final {
			return sdk.DeliverResponse{}, err
		}
		for i := range d.verdicts {
			if !d.decided[i] {
				d.verdicts[i] = sdk.Verdict{Err: err}
			}
		}
	}
	for i, f := range dupOf {
		d.verdicts[i] = d.verdicts[f]
	}
	return sdk.DeliverResponse{Verdicts: d.verdicts}, nil
}

// prepare returns the bytes to send for a statement: as given, or
// re-encoded for xAPI 1.0.3 if the LRS is 1.0.3 and the statement may carry
// 2.0-only properties. The host encodes for the LRS's version and says so
// in st.EncodedFor, once it checked the statement (when it recorded it):
// then the bytes are sent without another scan. A statement the host did
// not mark (an older host) is checked here.
func (s *Sink) prepare(st sdk.Statement) ([]byte, error) {
	if st.EncodedFor == s.cfg.Version {
		return st.JSON, nil
	}
	out, err := xapi.ForVersion(st.JSON, s.cfg.Version)
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("re-encode statement for xapi 1.0.3: %w", err))
	}
	return out, nil
}

// sendAll sends items in batches within the size limits, in order. It
// returns the first whole-batch error, leaving later items undecided.
func (d *delivery) sendAll(ctx context.Context, items []item) error {
	for len(items) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lrs: %w", context.Cause(ctx))
		}
		n := d.s.batchLen(items)
		if err := d.send(ctx, items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// batchLen returns how many of items go into the next request: at most
// max_batch, and within the learned body size limit, at least one.
func (s *Sink) batchLen(items []item) int {
	n := min(len(items), s.cfg.maxBatch())
	limit := s.learnedBytes.Load()
	if limit <= 0 {
		return n
	}
	size := int64(2) // the brackets
	for i := range n {
		size += int64(len(items[i].body))
		if i > 0 {
			size++ // the comma
		}
		if size > limit {
			return max(i, 1)
		}
	}
	return n
}

// learnLimit remembers that a body of size bytes was refused with 413.
func (s *Sink) learnLimit(size int) {
	limit := int64(size - 1)
	for {
		cur := s.learnedBytes.Load()
		if cur > 0 && cur <= limit {
			return
		}
		if s.learnedBytes.CompareAndSwap(cur, limit) {
			return
		}
	}
}

// send posts one batch and decides its statements, bisecting on 400 and
// 409 and splitting on 413.
func (d *delivery) send(ctx context.Context, batch []item) error {
	body := encodeBatch(batch)
	r, err := d.s.do(ctx, http.MethodPost, d.s.statementsURL, body)
	if err != nil {
		return err
	}
	switch {
	case r.status >= 200 && r.status < 300:
		d.acknowledge(batch, r.body)
		return nil
	case r.status == http.StatusBadRequest:
		if len(batch) == 1 {
			d.decide(batch[0].idx, sdk.Verdict{Err: sdk.Permanent(&StatusError{StatusCode: r.status, Message: lrsMessage(r.body)})})
			return nil
		}
		return d.bisect(ctx, batch)
	case r.status == http.StatusConflict:
		if len(batch) == 1 {
			d.decide(batch[0].idx, sdk.Verdict{AlreadyStored: true})
			return nil
		}
		return d.bisect(ctx, batch)
	case r.status == http.StatusRequestEntityTooLarge:
		if len(batch) == 1 {
			d.decide(batch[0].idx, sdk.Verdict{Err: sdk.Permanent(&StatusError{
				StatusCode: r.status,
				Message:    "the statement alone is larger than the LRS accepts",
			})})
			return nil
		}
		d.s.learnLimit(len(body))
		mid := len(batch) / 2
		if err := d.sendAll(ctx, batch[:mid]); err != nil {
			return err
		}
		return d.sendAll(ctx, batch[mid:])
	}
	return classify(r)
}

// bisect sends the two halves of a rejected batch separately.
func (d *delivery) bisect(ctx context.Context, batch []item) error {
	mid := len(batch) / 2
	if err := d.send(ctx, batch[:mid]); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lrs: %w", context.Cause(ctx))
	}
	return d.send(ctx, batch[mid:])
}

// acknowledge decides a batch the LRS accepted, checking the returned ids.
func (d *delivery) acknowledge(batch []item, body []byte) {
	var ids []string
	if err := json.Unmarshal(body, &ids); err != nil {
		for _, it := range batch {
			d.decide(it.idx, sdk.Verdict{Err: fmt.Errorf("%w: the answer is not a list of statement ids", ErrNotAcknowledged)})
		}
		return
	}
	got := make(map[string]bool, len(ids))
	for _, id := range ids {
		got[lowerID(id)] = true
	}
	for _, it := range batch {
		id := lowerID(d.items[it.idx].ID)
		// A statement without an id gets one from the LRS; it is
		// acknowledged when the LRS returned one id per statement.
		if got[id] || (id == "" && len(ids) == len(batch)) {
			d.decide(it.idx, sdk.Verdict{})
		} else {
			d.decide(it.idx, sdk.Verdict{Err: ErrNotAcknowledged})
		}
	}
}

// encodeBatch returns the JSON array of the statements of batch.
func encodeBatch(batch []item) []byte {
	n := 2
	for _, it := range batch {
		n += len(it.body) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, it := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.body...)
	}
	return append(b, ']')
}

// lowerID returns id in lower case, without allocating when it already is
// (UUIDs usually are).
func lowerID(id string) string {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(id)
		}
	}
	return id
}

// allRejected reports whether every statement sent got a permanent 400
// verdict.
func (d *delivery) allRejected(items []item) bool {
	for _, it := range items {
		var se *StatusError
		v := d.verdicts[it.idx]
		if !d.decided[it.idx] || !sdk.IsPermanent(v.Err) || !errors.As(v.Err, &se) || se.StatusCode != http.StatusBadRequest {
			return false
		}
	}
	return true
}

// probeRequestLevel tells a rejected batch from a rejected request. When
// an LRS answered 400 to every statement, one authenticated read with the
// same headers is sent: if the LRS answers 400 to that too, the problem is
// the request (for example an xAPI version the LRS does not take), not the
// statements, and a retryable error is returned so that nothing is
// dead-lettered for it. Any other answer leaves the verdicts as they are.
func (d *delivery) probeRequestLevel(ctx context.Context) error {
	r, err := d.s.do(ctx, http.MethodGet, d.s.statementsURL+"?limit=1", nil)
	if err != nil || r.status != http.StatusBadRequest {
		return nil
	}
	return &StatusError{StatusCode: r.status, Message: "the LRS refuses every request, not only these statements: " + lrsMessage(r.body)}
}
