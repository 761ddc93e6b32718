package delivery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// TestSpanContexts checks that the span contexts stored with a batch's
// entries are parsed once per run of entries of the same record, that
// entries without one or with damaged bytes are left out, and that a
// record seen again after another one is listed again (the batch span
// links each distinct record once).
func TestSpanContexts(t *testing.T) {
	t.Parallel()
	sc := func(id byte) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{id}, SpanID: trace.SpanID{id}, TraceFlags: trace.FlagsSampled, Remote: true,
		})
	}
	enc := func(id byte) []byte { return telemetry.AppendSpanContext(nil, sc(id)) }
	entries := func(traces ...[]byte) []queue.Entry {
		out := make([]queue.Entry, len(traces))
		for i, tr := range traces {
			out[i] = queue.Entry{Seq: uint64(i + 1), Trace: tr}
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		entries []queue.Entry
		want    []trace.SpanContext
	}{
		{"none", entries(nil, nil), nil},
		{"one record", entries(enc(1), enc(1), enc(1)), []trace.SpanContext{sc(1)}},
		{"runs", entries(enc(1), enc(1), enc(2), nil, enc(2), enc(1)), []trace.SpanContext{sc(1), sc(2), sc(1)}},
		{"damaged", entries([]byte{7, 7}, enc(3)), []trace.SpanContext{sc(3)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := spanContexts(tt.entries)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b trace.SpanContext) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("spanContexts (-want +got):\n%s", diff)
			}
		})
	}
}
