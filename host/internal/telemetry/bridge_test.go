package telemetry_test

import (
	"context"
	"iter"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// receiver keeps what the bridge hands it, with durations reduced to a
// marker (they vary from run to run).
type receiver struct {
	mu    sync.Mutex
	calls []string
}

func (r *receiver) Count(name string, delta int64, org, integration string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "count "+name+" "+itoa(delta)+" "+org+" "+integration)
}

func (r *receiver) Observe(name string, value float64, org, integration string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := "duration"
	if name == telemetry.MetricBatchSize {
		v = itoa(int64(value))
	}
	r.calls = append(r.calls, "observe "+name+" "+v+" "+org+" "+integration)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBridgeForwardsToReceiver: through the bridge, an old-style receiver
// gets every counter and histogram with the organization and integration,
// and the gauges are dropped without error.
func TestBridgeForwardsToReceiver(t *testing.T) {
	r := &receiver{}
	tel, err := telemetry.New(telemetry.Options{MeterProvider: telemetry.Bridge(r), TracerProvider: noop.NewTracerProvider(),
		Attributes: telemetry.Attributes{Mode: telemetry.ModeAll}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := tel.Integration("acme", "acme/lrs-1", "lrs")
	_, rec := tel.StartRecord(ctx, "acme", "")
	in.Recorded(2)
	rec.End(2, nil)
	_, b := in.StartBatch(ctx, 2, nil)
	in.Delivered(ctx, 2, 0)
	b.End(nil, telemetry.BatchResult{Delivered: 2})
	in.DeadLettered(ctx, 1, telemetry.DeadLetterExpired)
	tel.PluginStarted(ctx, "lrs", "", true)
	unregister, err := tel.ObserveIntegrations(func() iter.Seq[telemetry.IntegrationSnapshot] {
		return slices.Values([]telemetry.IntegrationSnapshot{{Org: "acme"}})
	})
	if err != nil {
		t.Fatalf("ObserveIntegrations through the bridge = %v", err)
	}
	defer unregister()
	want := []string{
		"count lrsbridge.statements.recorded 2 acme acme/lrs-1",
		"observe lrsbridge.record.duration duration acme ",
		"count lrsbridge.statements.delivered 2 acme acme/lrs-1",
		"observe lrsbridge.delivery.batch.size 2 acme acme/lrs-1",
		"observe lrsbridge.delivery.batch.duration duration acme acme/lrs-1",
		"count lrsbridge.statements.dead_lettered 1 acme acme/lrs-1",
		"count lrsbridge.plugin.starts 1  lrs",
		"count lrsbridge.plugin.restarts 1  lrs",
	}
	if diff := cmp.Diff(want, r.calls, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("receiver calls (-want +got):\n%s", diff)
	}
}
