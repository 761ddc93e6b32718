package host

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// BenchmarkTenThousandOrgs configures 10,000 organizations, each with one
// integration on the shared LRS plugin process, and records one statement
// for 1,000 of them (8 producers, default durability). It reports the
// start time of a fresh host and of a restarted one (all 10,000 queues
// known), the resident memory of the host (this test process; the LRS runs
// in a process of its own) and of the plugin process while the 1,000 are
// active, the host's descriptors (all, and those that are not sockets) and
// queue files against the budget (queue.max_open_files), and its
// goroutines while active and once the workers have parked.
func BenchmarkTenThousandOrgs(b *testing.B) {
	const configured, active, producers = 10000, 1000, 8
	for range b.N {
		lrs := newLRSProcess(b)
		endpoint := lrs.endpoint
		cfg := testConfig(b)
		cfg.Queue.Sync = SyncAlways
		cfg.Plugins.IdleTimeout = 2 * time.Second
		for i := range configured {
			addOrg(&cfg, orgName(i), lrsSink(endpoint, "s"))
		}
		began := time.Now()
		h, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Since(began)
		idleGoroutines := runtime.NumGoroutine()

		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				for i := p; i < active; i += producers {
					if err := h.Record(context.Background(), orgName(i), statement(orgName(i), 1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		waitIdle(b, h, 5*time.Minute)
		if got := lrs.count(b); got != active {
			b.Fatalf("LRS has %d statements, want %d", got, active)
		}
		hostRSS, activeGoroutines := rssMiB(os.Getpid()), runtime.NumGoroutine()
		fds, fileFDs := openFDs()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var pluginRSS float64
		for name, pid := range h.sup.Running() {
			if name == "lrs" {
				pluginRSS = rssMiB(pid)
			}
		}
		queueFiles := h.queues.(*queue.Store).OpenFiles()
		if queueFiles > cfg.Queue.MaxOpenFiles {
			b.Fatalf("%d queue files open, over the budget of %d", queueFiles, cfg.Queue.MaxOpenFiles)
		}
		// The workers park once their queues have been empty for the idle
		// timeout.
		eventually(b, time.Minute, "the workers to park", func() bool {
			return runtime.NumGoroutine() < idleGoroutines+50
		})
		parkedGoroutines := runtime.NumGoroutine()
		shutdown(b, h)

		began = time.Now()
		h, err = New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		restart := time.Since(began)
		restartGoroutines := runtime.NumGoroutine()
		shutdown(b, h)

		b.ReportMetric(start.Seconds(), "start-s")
		b.ReportMetric(restart.Seconds(), "restart-s")
		b.ReportMetric(hostRSS, "host-rss-MiB")
		b.ReportMetric(pluginRSS, "plugin-rss-MiB")
		b.ReportMetric(hostRSS+pluginRSS, "total-rss-MiB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "host-heap-MiB")
		b.ReportMetric(float64(fds), "host-fds")
		b.ReportMetric(float64(fileFDs), "host-fds-not-sockets")
		b.ReportMetric(float64(queueFiles), "queue-files")
		b.ReportMetric(float64(idleGoroutines), "goroutines-at-start")
		b.ReportMetric(float64(activeGoroutines), "goroutines-active")
		b.ReportMetric(float64(parkedGoroutines), "goroutines-parked")
		b.ReportMetric(float64(restartGoroutines), "goroutines-restart")
	}
}

func orgName(i int) string { return fmt.Sprintf("org%05d", i) }

func shutdown(b *testing.B, h *Host) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// openFDs counts this process's open descriptors (Linux; -1 elsewhere):
// all of them, and those that are not sockets.
func openFDs() (all, notSockets int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, -1
	}
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && !strings.HasPrefix(l, "socket:") {
			notSockets++
		}
	}
	return len(ents), notSockets
}
