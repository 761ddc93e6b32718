package host

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func TestEncodeItemsTagsAndSeparatesStatements(t *testing.T) {
	t.Parallel()
	withAgents := statement("acme", 2)
	withAgents.Context = &xapi.Context{ContextAgents: []xapi.ContextAgent{{Agent: xapi.Actor{Mbox: "mailto:b@example.com"}}}}
	sts := []*xapi.Statement{statement("acme", 1), withAgents}
	var want []queue.Item
	for _, st := range sts {
		b, err := xapi.Marshal(st, xapi.V200)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, queue.Item{ID: st.ID, Data: b})
	}
	want[0].Tag, want[1].Tag = delivery.TagSameForV103, delivery.TagNeedsV103

	buf := getBuffer()
	defer putBuffer(buf)
	*buf = append(*buf, "left over from an earlier call"...)
	got, _, err := encodeItems(buf, sts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	// Each item's data ends where it ends: appending to one never
	// overwrites the next.
	for i, it := range got {
		if cap(it.Data) != len(it.Data) {
			t.Errorf("item %d: capacity %d beyond its length %d", i, cap(it.Data), len(it.Data))
		}
	}
}

// TestEncodeTracedSharesOneSpanContext checks that the statements of one
// call carry the call's span context, encoded once and shared, even when
// the buffer grows while the statements are encoded, and carry none when
// the call has none to store.
func TestEncodeTracedSharesOneSpanContext(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	})
	sts := statements("acme", 0, 50) // far more than a fresh buffer holds
	for _, tt := range []struct {
		name string
		sc   trace.SpanContext
		want []byte
	}{
		{"sampled", sc, telemetry.AppendSpanContext(nil, sc)},
		{"none", trace.SpanContext{}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantBuf, gotBuf := new([]byte), new([]byte)
			want, _, err := encodeItems(wantBuf, sts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				want[i].Trace = tt.want
			}
			*gotBuf = append(*gotBuf, "left over from an earlier call"...)
			got, _, err := encodeTraced(gotBuf, tt.sc, sts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			for i, it := range got {
				if cap(it.Trace) != len(it.Trace) {
					t.Errorf("item %d: trace capacity %d beyond its length %d", i, cap(it.Trace), len(it.Trace))
				}
				if len(it.Trace) > 0 && &it.Trace[0] != &got[0].Trace[0] {
					t.Errorf("item %d: its trace bytes are a copy; want the call's one encoding", i)
				}
			}
		})
	}
}

func TestQueueDescriptorBudget(t *testing.T) {
	t.Parallel()
	const orgs, budget = 6, 2
	cfg := testConfig(t)
	cfg.Queue.MaxOpenFiles = budget
	files := map[string]string{}
	for i := range orgs {
		org := fmt.Sprintf("org%d", i)
		files[org] = filepath.Join(t.TempDir(), "r.ndjson")
		addOrg(&cfg, org, mockSink("mock", files[org], nil))
	}
	h := newHost(t, cfg)
	for round := range 3 {
		for org := range files {
			if err := h.Record(context.Background(), org, statement(org, round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitIdle(t, h, time.Minute)
	for org, file := range files {
		if ids, _ := recordedIDs(t, file); len(ids) != 3 {
			t.Errorf("%s: %d statements delivered, want 3", org, len(ids))
		}
	}
	if got := h.queues.(*queue.Store).OpenFiles(); got > budget {
		t.Errorf("%d queue files open, over the budget of %d", got, budget)
	}
}
