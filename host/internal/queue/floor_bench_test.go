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

	"golang.org/x/sys/unix"

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
	f := zeroedFile(b, 2*rounds*per)
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
	n := 0
	idle := make([]time.Duration, 0, rounds*per)
	loaded := make([]time.Duration, 0, rounds*per)
	commit := func(lat *[]time.Duration) {
		for range per {
			*lat = append(*lat, commitAt(b, f, n))
			n++
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

// BenchmarkFsyncByCPU measures the same bare write and fdatasync as
// BenchmarkFsyncBesideCPU on an otherwise idle machine, from a thread
// bound to one CPU at a time (cpu=N). A virtual machine's disk signals
// completion on one CPU; where waking a thread on another CPU is slow (up
// to a scheduler tick on some hypervisors), the p99 differs by CPU even
// with nothing else running, and a busy machine, which can no longer wake
// the thread where the disk signals, pays that tick: the floor under
// BenchmarkFsyncBesideCPU's loaded figures. x-best-p99 is this CPU's p99
// divided by the best CPU's in the same run (reported on the last CPU's
// line, so that all CPUs are measured first).
func BenchmarkFsyncByCPU(b *testing.B) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		b.Fatal(err)
	}
	var cpus []int
	for cpu := range 1024 {
		if allowed.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	p99s := make([]time.Duration, len(cpus))
	for i, cpu := range cpus {
		b.Run(fmt.Sprintf("cpu=%d", cpu), func(b *testing.B) {
			p99s[i] = fsyncOnCPU(b, cpu)
			b.ReportMetric(float64(p99s[i].Microseconds()), "p99-µs")
			if i == len(cpus)-1 {
				best := slices.Min(p99s)
				for j, p := range p99s {
					b.ReportMetric(float64(p)/float64(max(best, 1)), fmt.Sprintf("cpu%d-x-best-p99", cpus[j]))
				}
			}
		})
	}
}

// fsyncOnCPU runs b.N commits from the calling goroutine's thread bound to
// cpu and returns their p99 (and reports their p50).
func fsyncOnCPU(b *testing.B, cpu int) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		b.Fatal(err)
	}
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := unix.SchedSetaffinity(0, &was); err != nil {
			b.Error(err)
		}
	}()
	f := zeroedFile(b, b.N)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, commitAt(b, f, i))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	return lat[min(len(lat)-1, len(lat)*99/100)]
}

// zeroedFile returns a file with room for n statements (and 1 MiB more)
// written as zeros and fdatasynced, as the queue writes its segments
// ahead, so that a commit over it flushes data only. It is closed when b
// ends.
func zeroedFile(b *testing.B, n int) *os.File {
	f, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	if _, err := f.WriteAt(make([]byte, int64(n*len(benchStatement))+1<<20), 0); err != nil {
		b.Fatal(err)
	}
	if err := datasync(f); err != nil {
		b.Fatal(err)
	}
	return f
}

// commitAt writes benchStatement as the i-th statement of f and
// fdatasyncs it, and returns how long that took.
func commitAt(b *testing.B, f *os.File, i int) time.Duration {
	began := time.Now()
	if _, err := f.WriteAt(benchStatement, int64(i*len(benchStatement))); err != nil {
		b.Fatal(err)
	}
	if err := datasync(f); err != nil {
		b.Fatal(err)
	}
	return time.Since(began)
}
