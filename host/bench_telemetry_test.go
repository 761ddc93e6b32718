package host

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// telemetryModes are the sides of the telemetry benchmarks: "off" is the
// default (OpenTelemetry's global providers, no-ops until an application
// sets them); "control" is a second host with telemetry off, whose cost
// against "off" shows how far the machine's noise alone moves a figure;
// "metrics" is the SDK recording every metric, without traces; "sampled"
// is the SDK recording every metric and sampling 1 % of traces
// (parent-based), as busy services do; "on" samples every span, the worst
// case. Spans go to a batching span processor with a no-op exporter, as
// an application exports them. (A synchronous span processor instead,
// sdktrace.WithSyncer, cost the same in these benchmarks: the batching
// processor's hand-off of each span is not where tracing's cost lies.)
var telemetryModes = []struct {
	name string
	opts func(b *testing.B) ([]Option, *sdkmetric.ManualReader)
}{
	{"off", func(*testing.B) ([]Option, *sdkmetric.ManualReader) { return nil, nil }},
	{"control", func(*testing.B) ([]Option, *sdkmetric.ManualReader) { return nil, nil }},
	{"metrics", func(b *testing.B) ([]Option, *sdkmetric.ManualReader) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		return []Option{WithMeterProvider(mp)}, reader
	}},
	{"sampled", func(b *testing.B) ([]Option, *sdkmetric.ManualReader) {
		return traced(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))
	}},
	{"on", func(b *testing.B) ([]Option, *sdkmetric.ManualReader) { return traced(b, sdktrace.AlwaysSample()) }},
}

// traced returns the options of an SDK meter provider and a tracer
// provider with sampler, exporting to a no-op exporter through a batching
// span processor, and the meter provider's reader.
func traced(b *testing.B, sampler sdktrace.Sampler) ([]Option, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return []Option{WithMeterProvider(mp), WithTracerProvider(tp)}, reader
}

// batchSize returns the mean size of the delivery calls reader has seen
// (lrsbridge.delivery.batch.size), or 0 if it has seen none.
func batchSize(b *testing.B, reader *sdkmetric.ManualReader) float64 {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		b.Fatal(err)
	}
	var count uint64
	var sum int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[int64]); ok && m.Name == telemetry.MetricBatchSize {
				for _, dp := range h.DataPoints {
					count += dp.Count
					sum += dp.Sum
				}
			}
		}
	}
	if count == 0 {
		return 0
	}
	return float64(sum) / float64(count)
}

// side is one host of a paired benchmark: run is timed, settle (for
// example waiting for delivery) is not, so that one host's background work
// does not land in another's time.
type side struct {
	run, settle func()
	h           *Host
}

// pairedRounds runs one host per telemetry mode, warms each up with one
// untimed round, then runs b.N rounds: in each, every host in turn runs
// once and settles, in an order shuffled from round to round (so that no
// host always follows the same one), so that the hosts of a round see the
// same machine load. The heap is collected between rounds, outside the
// measured time, and rarely otherwise (GOGC 400), so that no host pays
// for another's garbage; B/stmt shows each mode's. Per mode it reports:
//
//   - ns/stmt: the wall time of run, per statement (mean of the rounds);
//   - cpu-ns/stmt: the CPU time of run and settle, in the test process and
//     the host's plugin processes, per statement: what recording and
//     delivering a statement costs, whether delivery overlapped run or not;
//   - plugin-cpu-ns/stmt: the plugin processes' part of it;
//   - B/stmt: the bytes the test process allocated in run and settle;
//   - stmt/batch (modes that measure): the mean size of a delivery call,
//     the warm-up round included: smaller batches cost more per
//     statement, whatever telemetry does in each;
//   - span-cpu-ns/span and span-share-% (with floorProducers > 0): the
//     CPU time of one span of an SDK tracer provider made as Record must
//     make it (producer kind, the organization and statement count
//     attributes), from floorProducers goroutines at once as the callers
//     of the round, measured in every round, and the median over the
//     rounds of that time per statement of the round divided by "off"'s
//     CPU time: the part of a statement's cost that the SDK alone takes
//     for the span of a traced one-statement call, whatever the host does
//     around it;
//   - cost-% and cpu-cost-% (every mode but "off"): the median over the
//     rounds of the mode's time divided by "off"'s time in the same round,
//     less one, in percent. A median of paired ratios is what a busy
//     machine moves least: a round in which another process took the CPU
//     is an outlier, not a shift of the sum. "control" shows what is left
//     of the noise.
func pairedRounds(b *testing.B, perRound, floorProducers int, setup func(b *testing.B, opts []Option) side) {
	sides := make([]side, len(telemetryModes))
	readers := make([]*sdkmetric.ManualReader, len(telemetryModes))
	for i, m := range telemetryModes {
		opts, reader := m.opts(b)
		sides[i], readers[i] = setup(b, opts), reader
	}
	// Each host runs under a profiler label naming its mode, which the
	// goroutines it starts inherit (delivery workers start from Record), so
	// that a CPU profile (-cpuprofile) splits by mode:
	// go tool pprof -tagfocus telemetry=metrics ...
	for i, s := range sides {
		s.run, s.settle = labeled(telemetryModes[i].name, s.run), labeled(telemetryModes[i].name, s.settle)
		sides[i] = s
		s.run()
		s.settle()
	}
	pluginCPU := func(s side) (c float64) {
		for _, pid := range s.h.sup.Running() {
			c += threadsCPU(pid)
		}
		return c
	}
	wall := make([][]float64, len(sides))
	cpu := make([][]float64, len(sides))
	alloc := make([]float64, len(sides))
	plug := make([]float64, len(sides))
	// Collect garbage between rounds only: a collection that starts in
	// one host's time is mostly the others' garbage, the largest noise of
	// a per-round figure. The garbage each mode makes is B/stmt.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	order := make([]int, len(sides))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(1, 2)) // the same orders in every run
	spans := newSpanFloor(b)
	var spanCPU []float64
	b.ResetTimer()
	for range b.N {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		for _, i := range order {
			s := sides[i]
			p0 := pluginCPU(s)
			c0, a0, began := selfCPU()+p0, allocatedBytes(), time.Now()
			s.run()
			w := time.Since(began)
			b.StopTimer()
			s.settle()
			p1 := pluginCPU(s)
			cpu[i] = append(cpu[i], selfCPU()+p1-c0)
			plug[i] += p1 - p0
			alloc[i] += float64(allocatedBytes() - a0)
			wall[i] = append(wall[i], float64(w))
			b.StartTimer()
		}
		if floorProducers > 0 {
			b.StopTimer()
			spanCPU = append(spanCPU, spans.cpu(perRound, floorProducers))
			b.StartTimer()
		}
	}
	b.StopTimer()
	n := float64(b.N * perRound)
	sum := func(v []float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return s
	}
	for i, m := range telemetryModes {
		b.ReportMetric(sum(wall[i])/n, m.name+"-ns/stmt")
		b.ReportMetric(sum(cpu[i])*1e9/n, m.name+"-cpu-ns/stmt")
		b.ReportMetric(alloc[i]/n, m.name+"-B/stmt")
		b.ReportMetric(plug[i]*1e9/n, m.name+"-plugin-cpu-ns/stmt")
		if readers[i] != nil {
			b.ReportMetric(batchSize(b, readers[i]), m.name+"-stmt/batch")
		}
		if i > 0 {
			b.ReportMetric(100*(medianRatio(wall[i], wall[0])-1), m.name+"-cost-%")
			b.ReportMetric(100*(medianRatio(cpu[i], cpu[0])-1), m.name+"-cpu-cost-%")
		}
	}
	if floorProducers > 0 {
		b.ReportMetric(sum(spanCPU)*1e9/n, "span-cpu-ns/span")
		b.ReportMetric(100*medianRatio(spanCPU, cpu[0]), "span-share-%")
	}
}

// labeled returns f run under the profiler label telemetry=mode.
func labeled(mode string, f func()) func() {
	labels := pprof.Labels("telemetry", mode)
	return func() { pprof.Do(context.Background(), labels, func(context.Context) { f() }) }
}

// spanFloor measures the least a traced call can cost: spans of an SDK
// tracer provider set up as the "on" mode's, made as Record makes its span
// (producer kind, the organization and the statement count set before the
// span ends), then flushed to the no-op exporter, in the CPU time of the
// test process.
type spanFloor struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

func newSpanFloor(b *testing.B) spanFloor {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return spanFloor{tp: tp, tracer: tp.Tracer(telemetry.ScopeName)}
}

// cpu returns the CPU seconds n spans took, made by producers goroutines
// at once, as the callers of a round make theirs.
func (f spanFloor) cpu(n, producers int) float64 {
	ctx := context.Background()
	kind := trace.WithSpanKind(trace.SpanKindProducer)
	c0 := selfCPU()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := p; i < n; i += producers {
				_, span := f.tracer.Start(ctx, telemetry.SpanRecord, kind)
				span.SetAttributes(telemetry.KeyOrg.String("acme"), telemetry.KeyStatementCount.Int(1))
				span.End()
			}
		})
	}
	wg.Wait()
	_ = f.tp.ForceFlush(ctx)
	return selfCPU() - c0
}

// medianRatio returns the median of a[r]/b[r] over the rounds r.
func medianRatio(a, b []float64) float64 {
	r := make([]float64, 0, len(a))
	for k := range a {
		if b[k] > 0 {
			r = append(r, a[k]/b[k])
		}
	}
	if len(r) == 0 {
		return 1
	}
	slices.Sort(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// threadsCPU returns the CPU seconds the live threads of a process have
// run, in nanoseconds of precision (Linux schedstat; procCPU's clock ticks
// are too coarse for one round). It returns 0 where that is not available.
func threadsCPU(pid int) float64 {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var ns float64
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		v, _ := strconv.ParseFloat(f[0], 64)
		ns += v
	}
	return ns / 1e9
}

// allocatedBytes returns the bytes the process has allocated on the heap
// since it started.
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// BenchmarkTelemetryRecord measures Record, one statement per call, with
// 1 and 8 producers, with telemetry off, metrics only and metrics and
// traces, in paired rounds; the mock sink delivers meanwhile. With
// sync=none the queue does not fsync, which bares the cost of telemetry;
// sync=always is the default durability.
func BenchmarkTelemetryRecord(b *testing.B) {
	const perRound = 200
	for _, bc := range []struct {
		sync      SyncPolicy
		producers int
	}{{SyncNone, 1}, {SyncNone, 8}, {SyncAlways, 8}} {
		b.Run(fmt.Sprintf("sync=%s/producers=%d", bc.sync, bc.producers), func(b *testing.B) {
			producers := bc.producers
			pairedRounds(b, perRound, producers, func(b *testing.B, opts []Option) side {
				cfg := testConfig(b)
				cfg.Queue.Sync = bc.sync
				addOrg(&cfg, "acme", mockSink("mock", filepath.Join(b.TempDir(), "r.ndjson"), nil))
				h := newHost(b, cfg, opts...)
				sts := statements("acme", 0, perRound)
				run := func() {
					var wg sync.WaitGroup
					for p := range producers {
						wg.Go(func() {
							for i := p; i < perRound; i += producers {
								if err := h.Record(context.Background(), "acme", sts[i]); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
				}
				return side{run: run, settle: func() { waitDelivered(b, h) }, h: h}
			})
		})
	}
}

// BenchmarkTelemetryEndToEnd measures statements from Record (100 per
// call, fsync before returning) until a loopback LRS has stored them,
// through the real LRS plugin process, with telemetry off, metrics only
// and metrics and traces, in paired rounds of 10 calls. With traces, the
// plugin's spans travel back to the host too.
func BenchmarkTelemetryEndToEnd(b *testing.B) {
	const batch, calls = 100, 10
	pairedRounds(b, batch*calls, 0, func(b *testing.B, opts []Option) side {
		store, endpoint := newLRS(b)
		cfg := testConfig(b)
		cfg.Queue.Sync = SyncAlways
		cfg.Delivery = DefaultConfig().Delivery
		cfg.Delivery.BatchSize = batch
		addOrg(&cfg, "acme", lrsSink(endpoint, "s"))
		h := newHost(b, cfg, opts...)
		// Warm up: start the plugin and configure the instance.
		if err := h.Record(context.Background(), "acme", statement("warmup", 0)); err != nil {
			b.Fatal(err)
		}
		waitIdle(b, h, time.Minute)
		next := 0
		run := func() {
			want := store.Len() + batch*calls
			for range calls {
				// Every statement is new to the LRS, so it stores rather
				// than compares.
				if err := h.Record(context.Background(), "acme", statements("acme", next, batch)...); err != nil {
					b.Fatal(err)
				}
				next += batch
			}
			for store.Len() < want {
				time.Sleep(time.Millisecond)
			}
		}
		return side{run: run, settle: func() { waitDelivered(b, h) }, h: h}
	})
}

// waitDelivered waits until h's queues are empty. It looks every
// millisecond (WaitIdle every 20), so that a round is not mostly waiting.
func waitDelivered(b *testing.B, h *Host) {
	deadline := time.Now().Add(time.Minute)
	for h.pending() > 0 {
		if time.Now().After(deadline) {
			b.Fatalf("%d statements still queued after a minute", h.pending())
		}
		time.Sleep(time.Millisecond)
	}
}
