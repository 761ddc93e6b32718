package telemetry

import (
	"context"
	"encoding/binary"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Span names. They are fixed: what varies goes into attributes.
const (
	// SpanRecord is the span of one Record call.
	SpanRecord = "lrsbridge.record"
	// SpanRecordEvent is the span of one RecordEvent call.
	SpanRecordEvent = "lrsbridge.record_event"
	// SpanDeliver is the span of one delivery call (a batch).
	SpanDeliver = "lrsbridge.deliver"
	// SpanReplay is the span of one ReplayDeadLetters call.
	SpanReplay = "lrsbridge.replay_dead_letters"
)

// maxLinks caps the links of a batch span: one per distinct record span of
// the batch's statements.
const maxLinks = 128

// Record is the span and timer of one Record or RecordEvent call.
type Record struct {
	t     *Telemetry
	ctx   context.Context
	span  trace.Span
	org   string // on metrics: Other once the organization is unknown
	sent  string // on the span: the organization as sent
	kind  string
	began time.Time
}

// StartRecord starts the span of a Record call (kind "") or a RecordEvent
// call for an event of the given kind. The span carries the organization
// and the event kind, never the event's content. End it with
// [Record.End]; store [Record.SpanContext] with each queued statement.
//
// The span's attributes are all set by End, in one call: the SDK then
// takes its lock and grows the span's attribute list once, and a span
// that does not record (telemetry off, or not sampled) costs nothing for
// them.
func (t *Telemetry) StartRecord(ctx context.Context, org, kind string) (context.Context, Record) {
	name := SpanRecord
	if kind != "" {
		name = SpanRecordEvent
	}
	ctx, span := t.tracer.Start(ctx, name, producer...)
	return ctx, Record{t: t, ctx: ctx, span: span, org: org, sent: org, kind: kind, began: time.Now()}
}

// UnknownOrg marks the call's organization as one the host does not know:
// its metrics count it under [Other], so that ids sent by an untrusted
// caller never become attribute values nor take a place in the limit. The
// span keeps the id as sent.
func (r *Record) UnknownOrg() { r.org = Other }

// producer holds the start option of record spans, made once.
var producer = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}

// SpanContext returns the span context to store with the statements the
// call queues: the zero SpanContext, which [AppendSpanContext] encodes in
// no bytes, unless the span is sampled. An unsampled span is not exported,
// so its id would only cost queue space and leave the statements' delivery
// outside any recorded trace.
func (r Record) SpanContext() trace.SpanContext { return sampled(r.span) }

// sampled returns the span context of span if it is sampled, the zero
// SpanContext otherwise.
func sampled(span trace.Span) trace.SpanContext {
	if sc := span.SpanContext(); sc.IsSampled() {
		return sc
	}
	return trace.SpanContext{}
}

// End ends the span with the number of statements queued and the call's
// error, and records the call's duration. Call it once.
//
// The duration offers the call's trace as an exemplar only when the call
// failed or took at least [RecordExemplarAbove]: see there why.
func (r Record) End(statements int, err error) {
	d := time.Since(r.began)
	ctx := context.Background()
	if err != nil || d >= RecordExemplarAbove {
		ctx = r.ctx
	}
	if err == nil {
		r.t.recordDuration.Record(ctx, d.Seconds(), r.t.fold.orgOption(r.org)...)
	} else {
		attrs := with(r.t.fold.org(r.org), KeyErrorType.String(recordErrorType(err)))
		r.t.recordDuration.Record(ctx, d.Seconds(), metric.WithAttributes(attrs...))
	}
	if !r.span.IsRecording() {
		r.span.End()
		return
	}
	// Exactly the attributes the span gets: the SDK copies them, so
	// this slice is garbage as soon as SetAttributes returns.
	n := 2
	if r.kind != "" {
		n++
	}
	if err != nil {
		n++
	}
	attrs := make([]attribute.KeyValue, 0, n)
	attrs = append(attrs, KeyOrg.String(r.sent), KeyStatementCount.Int(statements))
	if r.kind != "" {
		attrs = append(attrs, KeyEventKind.String(r.kind))
	}
	if err != nil {
		et := recordErrorType(err)
		attrs = append(attrs, KeyErrorType.String(et))
		r.span.SetStatus(codes.Error, et)
	}
	r.span.SetAttributes(attrs...)
	r.span.End()
}

// RecordExemplarAbove is the shortest Record or RecordEvent call whose
// duration offers its trace as an exemplar (the SDK keeps one per
// histogram bucket, if its exemplar filter lets it: by default, calls in
// a sampled trace). Failed calls always offer theirs. Offering one costs a
// lookup of the span in the context, a clock read and a lock of the
// bucket's reservoir, about a tenth of a traced call's own cost
// (BenchmarkRecordPath): a price worth paying on a call that took a
// millisecond, of which it is under a thousandth, and for the trace of a
// slow or failed call, the one an operator looks for; not on every fast
// call of a busy host, whose buckets have no exemplars.
const RecordExemplarAbove = time.Millisecond

// recordErrorType classifies the error of a Record call. The error text
// may hold the event's content, so it stays out of the span.
func recordErrorType(err error) string {
	if t := ErrorType(err); t != "retryable" {
		return t
	}
	return "refused"
}

// Replay is the span of one ReplayDeadLetters call: the dead letters it
// queues again carry its span context, as recorded statements carry their
// record's, so that their delivery is in the replay's trace.
type Replay struct {
	span trace.Span
}

// StartReplay starts the span of a ReplayDeadLetters call for org. End it
// with [Replay.End]; store [Replay.SpanContext] with each statement the
// replay queues.
func (t *Telemetry) StartReplay(ctx context.Context, org string) (context.Context, Replay) {
	ctx, span := t.tracer.Start(ctx, SpanReplay, producer...)
	if span.IsRecording() {
		span.SetAttributes(KeyOrg.String(org))
	}
	return ctx, Replay{span: span}
}

// SpanContext returns the span context to store with the statements the
// replay queues: the zero SpanContext unless the span is sampled, as for
// [Record.SpanContext].
func (r Replay) SpanContext() trace.SpanContext { return sampled(r.span) }

// End ends the span with the number of dead letters queued again and the
// call's error. Call it once.
func (r Replay) End(statements int, err error) {
	if r.span.IsRecording() {
		r.span.SetAttributes(KeyStatementCount.Int(statements))
		if err != nil {
			et := ErrorType(err)
			r.span.SetStatus(codes.Error, et)
			r.span.SetAttributes(KeyErrorType.String(et))
		}
	}
	r.span.End()
}

// Batch is the span and timer of one delivery call.
type Batch struct {
	i     *Integration
	ctx   context.Context
	span  trace.Span
	size  int
	began time.Time
}

// StartBatch starts the span of a delivery call of size statements whose
// record spans are records (the span contexts stored with them; unsampled
// or invalid ones are skipped). The span is a child of the first sampled
// record span, so that a batch of one record's statements is in that
// record's trace, and links to every distinct sampled record span (up to
// 128); a batch with none is a root, sampled on its own. Pass the returned
// context to the sink: the plugin connection carries it on.
//
// The span's attributes are set by [Batch.End], in one call.
func (i *Integration) StartBatch(ctx context.Context, size int, records []trace.SpanContext) (context.Context, *Batch) {
	for _, sc := range records {
		if sc.IsSampled() && sc.IsValid() {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
			break
		}
	}
	ctx, span := i.t.tracer.Start(ctx, SpanDeliver, client...)
	if span.IsRecording() {
		// Links are added after the start so that an unsampled batch
		// does not pay for them. Statements of one record are usually
		// next to each other: comparing with the last one linked skips
		// most repeats before the set is asked.
		var linked linkSet
		n := 0
		var last trace.SpanID
		for _, sc := range records {
			if n == maxLinks {
				break
			}
			id := sc.SpanID()
			if id == last || !sc.IsSampled() || !sc.IsValid() {
				continue
			}
			last = id
			if !linked.add(id) {
				continue
			}
			n++
			span.AddLink(trace.Link{SpanContext: sc})
		}
	}
	return ctx, &Batch{i: i, ctx: ctx, span: span, size: size, began: time.Now()}
}

// linkSet is the set of span ids a batch span links to, kept on the
// stack (a map cost the batch three allocations): open addressing over
// twice maxLinks slots, indexed by the id's last bytes (span ids are
// random), the zero id marking a free slot (a valid span id is never
// zero). Holding at most maxLinks ids, it always has a free slot.
type linkSet [2 * maxLinks]trace.SpanID

// add adds id, a valid span id, and reports whether it was not there.
func (s *linkSet) add(id trace.SpanID) bool {
	i := int(binary.BigEndian.Uint16(id[6:])) % len(s)
	for {
		switch s[i] {
		case id:
			return false
		case trace.SpanID{}:
			s[i] = id
			return true
		}
		i = (i + 1) % len(s)
	}
}

// client holds the start option of batch spans, made once.
var client = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// BatchResult is the outcome of a delivery call, per statement.
type BatchResult struct {
	// Delivered counts statements delivered, already stored included.
	Delivered int
	// AlreadyStored counts statements the sink reported stored before.
	AlreadyStored int
	// Retried counts statements handed back for a later attempt.
	Retried int
	// DeadLettered counts statements moved to the dead-letter store.
	DeadLettered int
}

// End ends the span and records the call's duration and the batch's size.
// err is the error of the call as a whole (nil when the sink answered per
// statement); res says what became of the statements. End does not count
// the statements: the host does that where it settles them, with the
// Integration's methods. Call it once.
func (b *Batch) End(err error, res BatchResult) {
	b.i.observeBatch(b.ctx, b.size, time.Since(b.began), err)
	if !b.span.IsRecording() {
		b.span.End()
		return
	}
	attrs := make([]attribute.KeyValue, 0, len(b.i.spanAttrs)+6)
	attrs = append(attrs, b.i.spanAttrs...)
	attrs = append(attrs,
		KeyStatementCount.Int(b.size),
		attribute.Int("lrsbridge.statements.delivered", res.Delivered),
		attribute.Int("lrsbridge.statements.already_stored", res.AlreadyStored),
		attribute.Int("lrsbridge.statements.retried", res.Retried),
		attribute.Int("lrsbridge.statements.dead_lettered", res.DeadLettered),
	)
	if err != nil {
		et := ErrorType(err)
		attrs = append(attrs, KeyErrorType.String(et))
		b.span.SetStatus(codes.Error, et)
	}
	b.span.SetAttributes(attrs...)
	b.span.End()
}
