package host

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/internal/proccpu"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// BenchmarkRecord measures Record throughput and latency with 1 and 8
// concurrent producers, one statement per call, under the default
// durability (fsync before returning, shared among concurrent callers),
// while the mock sink delivers in the background.
func BenchmarkRecord(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncGroup, SyncNone} {
		for _, producers := range []int{1, 8} {
			b.Run(fmt.Sprintf("sync=%s/producers=%d", policy, producers), func(b *testing.B) {
				cfg := testConfig(b)
				cfg.Queue.Sync = policy
				addOrg(&cfg, "acme", mockSink("mock", filepath.Join(b.TempDir(), "r.ndjson"), nil))
				h := newHost(b, cfg)
				sts := statements("acme", 0, 1000)
				lat := make([][]time.Duration, producers)
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				per := (b.N + producers - 1) / producers
				for p := 0; p < producers; p++ {
					wg.Go(func() {
						for i := 0; i < per; i++ {
							began := time.Now()
							if err := h.Record(context.Background(), "acme", sts[(p*per+i)%len(sts)]); err != nil {
								b.Error(err)
								return
							}
							lat[p] = append(lat[p], time.Since(began))
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				reportLatency(b, lat, per*producers)
			})
		}
	}
}

func reportLatency(b *testing.B, lat [][]time.Duration, n int) {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "statements/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkEndToEnd measures statements from Record to a loopback LRS
// through the real LRS plugin at batch 100 (recorded 100 per call, default
// durability), against a plain net/http client posting the same batches to
// the same kind of LRS in the same run.
func BenchmarkEndToEnd(b *testing.B) {
	const batch = 100
	// Every statement is new to the LRS, so it stores rather than
	// compares; both sides send the same statements.
	fresh := func(b *testing.B) []*xapi.Statement {
		b.StopTimer()
		defer b.StartTimer()
		return statements("acme", 0, b.N*batch)
	}
	b.Run("plain-client", func(b *testing.B) {
		lrs, endpoint := newLRS(b)
		sts := fresh(b)
		b.StopTimer()
		bodies := plainBodies(b, sts, batch)
		b.StartTimer()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		defer client.CloseIdleConnections()
		cpu0 := selfCPU()
		b.ResetTimer()
		postBodies(b, client, endpoint, bodies)
		b.StopTimer()
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "statements/s")
		b.ReportMetric((selfCPU()-cpu0)*1e3/float64(b.N), "testproc-cpu-ms/batch")
		if lrs.Len() != b.N*batch {
			b.Fatalf("LRS has %d statements, want %d", lrs.Len(), b.N*batch)
		}
	})
	b.Run("host-lrs-plugin", func(b *testing.B) {
		lrs, endpoint := newLRS(b)
		cfg := testConfig(b)
		cfg.Queue.Sync = "always"
		cfg.Delivery = DefaultConfig().Delivery
		cfg.Delivery.BatchSize = batch
		addOrg(&cfg, "acme", lrsSink(endpoint, "s"))
		m := &sumMetrics{}
		h, err := New(cfg, WithMetrics(m))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = h.Shutdown(context.Background()) })
		// Warm up: start the plugin and configure the instance.
		if err := h.Record(context.Background(), "acme", statement("warmup", 0)); err != nil {
			b.Fatal(err)
		}
		waitIdle(b, h, time.Minute)
		sts := fresh(b)
		cpu0 := selfCPU()
		var pcpu0 float64
		for _, pid := range h.sup.Running() {
			pcpu0 = proccpu.Seconds(pid)
		}
		b.ResetTimer()
		for i := range b.N {
			if err := h.Record(context.Background(), "acme", sts[i*batch:(i+1)*batch]...); err != nil {
				b.Fatal(err)
			}
		}
		waitIdle(b, h, 10*time.Minute)
		b.StopTimer()
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "statements/s")
		b.ReportMetric(m.mean(MetricBatchSeconds)*1e3, "deliver-ms")
		b.ReportMetric(m.mean(MetricBatchSize), "batch")
		b.ReportMetric((selfCPU()-cpu0)*1e3/float64(b.N), "testproc-cpu-ms/batch")
		for _, pid := range h.sup.Running() {
			b.ReportMetric((proccpu.Seconds(pid)-pcpu0)*1e3/float64(b.N), "plugin-cpu-ms/batch")
		}
		if lrs.Len() != b.N*batch+1 {
			b.Fatalf("LRS has %d statements, want %d", lrs.Len(), b.N*batch+1)
		}
	})
}

// BenchmarkThousandOrgs configures 1,000 organizations on the shared LRS
// plugin process, delivers one statement for each and reports the host's
// heap and the plugin process's resident memory.
func BenchmarkThousandOrgs(b *testing.B) {
	const orgs = 1000
	for range b.N {
		lrs := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "k", Secret: "s"}}})
		srv := httptest.NewServer(lrs)
		cfg := testConfig(b)
		for i := 0; i < orgs; i++ {
			addOrg(&cfg, fmt.Sprintf("org%04d", i), SinkConfig{ID: "lrs", Label: "LRS", Plugin: "lrs", Config: map[string]any{
				"xapi_version": "1.0.3", "endpoint": srv.URL + lrs.BasePath(), "key": "k", "secret": "s"}})
		}
		h := newHost(b, cfg)
		for i := 0; i < orgs; i++ {
			org := fmt.Sprintf("org%04d", i)
			if err := h.Record(context.Background(), org, statement(org, 1)); err != nil {
				b.Fatal(err)
			}
		}
		waitIdle(b, h, 5*time.Minute)
		if lrs.Len() != orgs {
			b.Fatalf("LRS has %d statements, want %d", lrs.Len(), orgs)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "host-heap-MiB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "host-goroutines")
		for name, pid := range h.sup.Running() {
			if name == "lrs" {
				b.ReportMetric(rssMiB(pid), "plugin-rss-MiB")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = h.Shutdown(ctx)
		cancel()
		srv.Close()
	}
}

// rssMiB reads a process's resident set size from /proc (Linux).
func rssMiB(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return -1
}

// sumMetrics keeps sums and counts of observations, for benchmarks.
type sumMetrics struct {
	mu  sync.Mutex
	sum map[string]float64
	n   map[string]int
}

func (m *sumMetrics) Count(string, int64, string, string) {}

func (m *sumMetrics) Observe(name string, v float64, _, _ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sum == nil {
		m.sum, m.n = map[string]float64{}, map[string]int{}
	}
	m.sum[name] += v
	m.n[name]++
}

func (m *sumMetrics) mean(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n[name] == 0 {
		return 0
	}
	return m.sum[name] / float64(m.n[name])
}

// selfCPU returns the CPU seconds this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
