//go:build linux

package queue

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/internal/procnice"
)

// BenchmarkFsyncBesideCPU measures this machine's floor for the host's
// BenchmarkRecordWhileDelivering: the latency of a bare write of one
// statement and fdatasync over zeros written ahead (how the queue writes),
// alone (idle) and while as many processes as there are cores only
// compute (loaded), alternating in rounds of 50 as that benchmark does.
// The computing processes run at the host's priority (nice=0) or at the
// lowest (nice=19); they are stopped (SIGSTOP) between loaded rounds.
// x-idle-p99 is the loaded p99 ÷ the idle p99: what any work that keeps
// the cores busy does to an fsync's tail, with no lrsbridge code in the
// way.
func BenchmarkFsyncBesideCPU(b *testing.B) {
	for _, nice := range []int{0, procnice.Max} {
		b.Run(fmt.Sprintf("nice=%d", nice), func(b *testing.B) { fsyncBesideCPU(b, nice) })
	}
}

func fsyncBesideCPU(b *testing.B, nice int) {
	const per = 50
	rounds := max(1, b.N/(2*per))
	f, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	size := int64(2*rounds*per*len(benchStatement)) + 1<<20
	if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
		b.Fatal(err)
	}
	if err := datasync(f); err != nil {
		b.Fatal(err)
	}
	burners := make([]*exec.Cmd, runtime.NumCPU())
	for i := range burners {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), burnEnv+"=1")
		if err := procnice.Start(cmd, nice); err != nil {
			b.Fatal(err)
		}
		burners[i] = cmd
		b.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	signal := func(sig syscall.Signal) {
		for _, cmd := range burners {
			if err := cmd.Process.Signal(sig); err != nil {
				b.Fatal(err)
			}
		}
	}
	signal(syscall.SIGSTOP)
	var off int64
	idle := make([]time.Duration, 0, rounds*per)
	loaded := make([]time.Duration, 0, rounds*per)
	commit := func(lat *[]time.Duration) {
		for range per {
			began := time.Now()
			if _, err := f.WriteAt(benchStatement, off); err != nil {
				b.Fatal(err)
			}
			if err := datasync(f); err != nil {
				b.Fatal(err)
			}
			*lat = append(*lat, time.Since(began))
			off += int64(len(benchStatement))
		}
	}
	b.ResetTimer()
	for range rounds {
		commit(&idle)
		b.StopTimer()
		signal(syscall.SIGCONT)
		time.Sleep(20 * time.Millisecond)
		b.StartTimer()
		commit(&loaded)
		b.StopTimer()
		signal(syscall.SIGSTOP)
		b.StartTimer()
	}
	b.StopTimer()
	p99 := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, len(d)*99/100)]
	}
	pi, pl := p99(idle), p99(loaded)
	b.ReportMetric(float64(pi.Microseconds()), "idle-p99-µs")
	b.ReportMetric(float64(pl.Microseconds()), "loaded-p99-µs")
	b.ReportMetric(float64(pl)/float64(pi), "x-idle-p99")
}
