package host

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// telemetryModes are the sides of the telemetry benchmarks: "off" is the
// default (OpenTelemetry's global providers, no-ops until an application
// sets them); "control" is a second host with telemetry off, whose cost
// against "off" shows how far the machine's noise alone moves a figure; "metrics" is the SDK recording every metric, without traces;
// "sampled" is the SDK recording every metric and sampling 1 % of traces
// (parent-based), as busy services do; "on" samples every span, the worst
// case. Spans go to a no-op exporter.
var telemetryModes = []struct {
	name string
	opts func(b *testing.B) []Option
}{
	{"off", func(*testing.B) []Option { return nil }},
	{"control", func(*testing.B) []Option { return nil }},
	{"metrics", func(b *testing.B) []Option {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		return []Option{WithMeterProvider(mp)}
	}},
	{"sampled", func(b *testing.B) []Option {
		return traced(b, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))
	}},
	{"on", func(b *testing.B) []Option { return traced(b, sdktrace.AlwaysSample()) }},
}

// traced returns the options of an SDK meter provider and a tracer
// provider with sampler, exporting to a no-op exporter.
func traced(b *testing.B, sampler sdktrace.Sampler) []Option {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return []Option{WithMeterProvider(mp), WithTracerProvider(tp)}
}

// side is one host of a paired benchmark: run is timed, settle (for
// example waiting for delivery) is not, so that one host's background work
// does not land in another's time.
type side struct {
	run, settle func()
	h           *Host
}

// pairedRounds runs one host per telemetry mode and, b.N times, a round
// that times run once on each host in turn, so that every mode sees the
// same machine load. It reports each mode's wall time and CPU time (the
// test process's and the host's plugin processes') per statement, and the
// cost of the others relative to "off" in percent of both.
func pairedRounds(b *testing.B, perRound int, setup func(b *testing.B, opts []Option) side) {
	sides := make([]side, len(telemetryModes))
	for i, m := range telemetryModes {
		sides[i] = setup(b, m.opts(b))
	}
	cpuOf := func(s side) float64 {
		c := selfCPU()
		for _, pid := range s.h.sup.Running() {
			c += procCPU(pid)
		}
		return c
	}
	wall := make([]time.Duration, len(sides))
	cpu := make([]float64, len(sides))
	b.ResetTimer()
	for round := range b.N {
		for k := range sides {
			i := (round + k) % len(sides) // vary who goes first
			c0, began := cpuOf(sides[i]), time.Now()
			sides[i].run()
			wall[i] += time.Since(began)
			cpu[i] += cpuOf(sides[i]) - c0
			b.StopTimer()
			sides[i].settle()
			b.StartTimer()
		}
	}
	b.StopTimer()
	n := float64(b.N * perRound)
	for i, m := range telemetryModes {
		b.ReportMetric(float64(wall[i].Nanoseconds())/n, m.name+"-ns/stmt")
		b.ReportMetric(cpu[i]*1e9/n, m.name+"-cpu-ns/stmt")
		if i > 0 {
			b.ReportMetric(100*(float64(wall[i])/float64(wall[0])-1), m.name+"-cost-%")
			b.ReportMetric(100*(cpu[i]/cpu[0]-1), m.name+"-cpu-cost-%")
		}
	}
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
			pairedRounds(b, perRound, func(b *testing.B, opts []Option) side {
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
				return side{run: run, settle: func() { waitIdle(b, h, time.Minute) }, h: h}
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
	pairedRounds(b, batch*calls, func(b *testing.B, opts []Option) side {
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
		return side{run: run, settle: func() { waitIdle(b, h, time.Minute) }, h: h}
	})
}
