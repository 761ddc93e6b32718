package telemetry

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace"
)

// SpanContextLen is the length of an encoded span context.
const SpanContextLen = 26

// spanContextVersion is the first byte of the encoding; a later encoding
// (for example one that keeps the trace state) takes another.
const spanContextVersion = 0

// ErrSpanContext reports bytes that are not an encoded span context.
var ErrSpanContext = errors.New("telemetry: not an encoded span context")

// AppendSpanContext appends the compact binary form of sc to dst, for the
// queue to store with a statement: the fields of a W3C traceparent header
// in 26 bytes (version 0, trace id, span id, trace flags) instead of its 55
// characters. The trace state is not kept. An invalid sc appends nothing,
// so a statement recorded without tracing costs no bytes.
func AppendSpanContext(dst []byte, sc trace.SpanContext) []byte {
	if !sc.IsValid() {
		return dst
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = append(dst, spanContextVersion)
	dst = append(dst, tid[:]...)
	dst = append(dst, sid[:]...)
	return append(dst, byte(sc.TraceFlags()))
}

// ParseSpanContext decodes what AppendSpanContext wrote. Empty input gives
// the zero (invalid) span context and no error; anything else that is not
// a valid encoded span context gives an error wrapping [ErrSpanContext].
// The result is marked remote: it was made by an earlier call, maybe by an
// earlier process.
func ParseSpanContext(b []byte) (trace.SpanContext, error) {
	if len(b) == 0 {
		return trace.SpanContext{}, nil
	}
	if len(b) != SpanContextLen {
		return trace.SpanContext{}, fmt.Errorf("%w: %d bytes, want %d", ErrSpanContext, len(b), SpanContextLen)
	}
	if b[0] != spanContextVersion {
		return trace.SpanContext{}, fmt.Errorf("%w: version %d, want %d", ErrSpanContext, b[0], spanContextVersion)
	}
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], b[1:17])
	copy(sid[:], b[17:25])
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tid,
		SpanID:     sid,
		TraceFlags: trace.TraceFlags(b[25]) & trace.FlagsSampled,
		Remote:     true,
	})
	if !sc.IsValid() {
		return trace.SpanContext{}, fmt.Errorf("%w: zero trace or span id", ErrSpanContext)
	}
	return sc, nil
}
