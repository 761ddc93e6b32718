package sdk_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"testing"
	"time"

	"github.com/learningflow/lrsbridge/internal/procnice"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// hostChildEnv makes the test binary a host-like process (see hostChild);
// its value is the plugin binary to launch.
const hostChildEnv = "LRSBRIDGE_SDK_TEST_HOST"

// hostChild launches the plugin at path, prints its pid and blocks until it
// is killed.
func hostChild(path string) int {
	proc, err := sdk.Launch(context.Background(), sdk.LaunchConfig{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(proc.Pid())
	select {}
}

// waitGone waits, as the parent or the subreaper of process pid, for it to
// exit; it fails the test if the process is still there when ctx ends, and
// then kills it.
func waitGone(t *testing.T, ctx context.Context, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		_, err := p.Wait()
		exited <- err
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("wait for plugin process %d: %v", pid, err)
		}
	case <-ctx.Done():
		_ = p.Kill()
		<-exited
		t.Fatalf("plugin process %d still runs after its host was killed", pid)
	}
}

// TestLaunch_pluginExitsWhenHostIsKilled kills a host-like process with
// SIGKILL and checks that the plugin it started exits on its own.
func TestLaunch_pluginExitsWhenHostIsKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("collects the orphan as Linux subreaper")
	}
	// Orphans become children of this process, so that it can wait for
	// the plugin once its host is gone.
	if err := setSubreaper(); err != nil {
		t.Skipf("cannot become a subreaper: %v", err)
	}
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), hostChildEnv+"="+pluginPath)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = host.Process.Kill()
		_ = host.Wait()
		t.Fatalf("host-like process: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("host-like process printed %q, want a pid", line)
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitGone(t, testCtx(t), pid)
}

// startBarePlugin starts the test plugin as a host would, with env added,
// and returns the command and the host's end of its standard input.
func startBarePlugin(t *testing.T, env ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(pluginPath)
	cmd.Env = append([]string{"LRSBRIDGE_SINK_PLUGIN=d2b3b8f1-lrsbridge-sink", "PLUGIN_PROTOCOL_VERSIONS=1"}, env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, bufio.NewReader(stdout)
}

// TestServe_exitsWithoutItsHost checks the two watches that need no
// parent-death signal: the end of the host's pipe on standard input, and a
// parent that is not the host that started the plugin. This process stays
// alive throughout, so the parent-death signal never fires.
func TestServe_exitsWithoutItsHost(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		// closeStdin closes the host's pipe once the plugin serves.
		closeStdin bool
	}{
		{"host pipe closed", []string{"LRSBRIDGE_SINK_HOST_PIPE=1", "LRSBRIDGE_SINK_HOST_PID=" + strconv.Itoa(os.Getpid())}, true},
		{"parent is not the host", []string{"LRSBRIDGE_SINK_HOST_PID=" + strconv.Itoa(os.Getppid())}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, stdin, stdout := startBarePlugin(t, tt.env...)
			if tt.closeStdin {
				// Not a TLS line: the plugin warns and serves with
				// go-plugin's own TLS, still watching the pipe.
				if _, err := io.WriteString(stdin, "not a TLS line\n"); err != nil {
					t.Fatal(err)
				}
				// It serves (prints its handshake) while the pipe is open.
				if line, err := stdout.ReadString('\n'); err != nil || !strings.Contains(line, "|grpc|") {
					t.Fatalf("plugin handshake = %q, %v; want it serving while its host pipe is open", line, err)
				}
			}
			_ = stdin.Close()
			waitGone(t, testCtx(t), cmd.Process.Pid)
			_ = cmd.Wait()
		})
	}
}

// pluginChildren returns the pids of this process's children whose program
// name is name.
func pluginChildren(t *testing.T, name string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if arg0, _, _ := strings.Cut(string(cmdline), "\x00"); arg0 == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestLaunch_endedContextLeavesNoProcess launches with deadlines from zero
// to past a typical start and checks that after every failed Launch no
// plugin process is left, not even one being reaped.
func TestLaunch_endedContextLeavesNoProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts processes through /proc")
	}
	// A copy of its own, so that no other test's plugins are counted.
	path := filepath.Join(t.TempDir(), "leakplugin")
	copyFile(t, pluginPath, path)
	var failed, started int
	for i := range 40 {
		deadline := time.Duration(i%20) * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: path})
		cancel()
		if err == nil {
			started++
			proc.Kill()
		} else {
			failed++
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Launch with deadline %v = %v; want DeadlineExceeded", deadline, err)
			}
		}
		if left := pluginChildren(t, path); len(left) > 0 {
			t.Fatalf("launch %d (deadline %v, err %v) left plugin processes %v", i, deadline, err, left)
		}
	}
	t.Logf("%d launches ended by their deadline, %d started", failed, started)
	if failed == 0 {
		t.Error("no launch ended by its deadline; the test proves nothing")
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return s[:]
}

// TestLaunch_swappedBinaryNeverRuns launches a verified plugin while
// another goroutine keeps replacing the binary with an unverified program
// and back. Every launch must either run the verified bytes or fail with
// ErrChecksumMismatch; the unverified program, which would leave a marker
// file, must never run.
//
// It runs with Launch, which checks the file at every launch, and with one
// Launcher, which reuses its verified copy while the file keeps its
// identity: the swaps must be noticed all the same.
func TestLaunch_swappedBinaryNeverRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	t.Run("launch", func(t *testing.T) { testSwappedBinaryNeverRuns(t, sdk.Launch) })
	t.Run("launcher", func(t *testing.T) {
		l := sdk.NewLauncher()
		t.Cleanup(func() { _ = l.Close() })
		testSwappedBinaryNeverRuns(t, l.Launch)
	})
}

func testSwappedBinaryNeverRuns(t *testing.T, launch func(context.Context, sdk.LaunchConfig) (*sdk.Process, error)) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin")
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	marker := filepath.Join(dir, "unverified-ran")
	copyFile(t, pluginPath, good)
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho ran > \"$MARKER\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, good, path)
	sum := fileSum(t, good)

	// The swaps are cheap, so that many fall between a check and a start:
	// renames of hard links, and rewrites of the first bytes in place.
	work := filepath.Join(dir, "work")
	copyFile(t, good, work)
	goodHead := make([]byte, 64)
	if f, err := os.Open(good); err != nil {
		t.Fatal(err)
	} else {
		_, err = io.ReadFull(f, goodHead)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	badHead := []byte("#!/bin/sh\necho ran > \"$MARKER\"\nexit 0\n")
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tmp := filepath.Join(dir, "swap")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			switch i % 4 {
			case 0, 1: // replace the file: bad, then good
				from := bad
				if i%4 == 1 {
					from = work
				}
				_ = os.Remove(tmp)
				if err = os.Link(from, tmp); err == nil {
					err = os.Rename(tmp, path)
				}
			case 2, 3: // rewrite it in place: bad, then good
				head := badHead
				if i%4 == 3 {
					head = goodHead
				}
				var f *os.File
				if f, err = os.OpenFile(path, os.O_WRONLY, 0); err == nil {
					_, err = f.WriteAt(head, 0)
					f.Close()
				}
			}
			if err == nil {
				swaps.Add(1)
			}
			runtime.Gosched()
		}
	})
	var ran, refused int
	// At least 60 launches, and more until both outcomes were seen: a
	// refused launch takes no time, so a run of them may pass between
	// two swaps.
	for i := 0; i < 60 || (ran == 0 || refused == 0) && i < 2000; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		proc, err := launch(ctx, sdk.LaunchConfig{Path: path, SHA256: sum, Env: []string{"MARKER=" + marker}})
		cancel()
		switch {
		case err == nil:
			ran++
			proc.Kill()
		case errors.Is(err, sdk.ErrChecksumMismatch):
			refused++
		default:
			// A file caught half written, or a plugin that could not
			// start: neither runs unverified bytes.
			var be *sdk.BinaryError
			if !errors.As(err, &be) && !strings.Contains(err.Error(), "handshake") {
				t.Logf("launch: %v", err)
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d swaps; %d launches ran the verified plugin, %d refused", swaps.Load(), ran, refused)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an unverified binary ran")
	}
	if ran == 0 || refused == 0 {
		t.Errorf("ran %d, refused %d: the swaps did not race the launches; the test proves nothing", ran, refused)
	}
}

func TestLaunch_binaryErrors(t *testing.T) {
	bad := fileSum(t, pluginPath)
	bad[0] ^= 0xff
	tests := []struct {
		name string
		path string
		sum  []byte
		want error
	}{
		{"missing binary", filepath.Join(t.TempDir(), "nope"), nil, sdk.ErrPluginNotFound},
		{"missing binary with checksum", filepath.Join(t.TempDir(), "nope"), bad, sdk.ErrPluginNotFound},
		{"wrong checksum", pluginPath, bad, sdk.ErrChecksumMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, err := sdk.Launch(testCtx(t), sdk.LaunchConfig{Path: tt.path, SHA256: tt.sum})
			if proc != nil {
				proc.Kill()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Launch = %v; want %v", err, tt.want)
			}
			var be *sdk.BinaryError
			if !errors.As(err, &be) || be.Path != tt.path {
				t.Errorf("Launch = %v; want a *BinaryError for %s", err, tt.path)
			}
		})
	}
}

// TestLaunch_logFloodIsLimited has a plugin print thousands of garbage
// lines and checks that the host logs only a bounded part of them, and
// says how many it suppressed.
func TestLaunch_logFloodIsLimited(t *testing.T) {
	rec := &recorder{}
	ctx := testCtx(t)
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: pluginPath, Logger: slog.New(rec), LogLimit: sdk.LogLimit{PerSecond: 1, Burst: 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	const printed = 5000
	sink := configure(t, proc.Provider(), "flood", map[string]any{"mode": scripted.ModeDeliver, "garbage_lines": float64(printed)})
	if _, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: sinktest.Statements(1)}); err != nil {
		t.Fatal(err)
	}
	proc.Kill()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var logged, suppressed int
	for _, r := range rec.records {
		if strings.HasPrefix(r.Message, "garbage ") {
			logged++
		}
		if r.Message == "plugin log lines suppressed" {
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "suppressed" {
					suppressed += int(a.Value.Int64())
				}
				return true
			})
		}
	}
	t.Logf("%d garbage lines logged, %d lines suppressed", logged, suppressed)
	if logged > printed/2 {
		t.Errorf("%d of %d garbage lines logged; want the rate limit to hold most back", logged, printed)
	}
	if logged+suppressed < printed {
		t.Errorf("%d lines logged + %d reported suppressed < %d printed: lines dropped without a word", logged, suppressed, printed)
	}
}

// BenchmarkLaunch measures starting a plugin through the handshake until
// its Provider is usable, each iteration starting one plugin each way in
// turn, so that every way gets the same share of a busy machine; it
// reports the median and 99th percentile start time of each way:
//
//   - p256/launch: Launch, which reuses nothing: ECDSA P-256 certificates
//     for host and plugin, the plugin's key sent over its standard input;
//   - p256/launcher: one Launcher, which reuses the host's certificate;
//   - p256/launcher/sha256: the same with a checksum, which the Launcher
//     checks by copying and hashing the binary once;
//   - ed25519/launch: Launch as it was with Ed25519 certificates;
//   - auto-p521: go-plugin's AutoMTLS (ECDSA P-521 certificates made on
//     each side);
//   - floor: starting the process until it prints its handshake line,
//     without TLS, connection or killing it gracefully.
//
// The sub-benchmark "checksum-each-launch" then starts plugins with Launch
// and a checksum, which copies and hashes the binary every time; it runs
// apart, so that its copies do not slow the other ways down. The
// sub-benchmarks "alone/..." run each way by itself, one launch after the
// other.
func BenchmarkLaunch(b *testing.B) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	sum := fileSum(b, pluginPath)
	l := sdk.NewLauncher()
	b.Cleanup(func() { _ = l.Close() })
	launchNice := func(launch func(context.Context, sdk.LaunchConfig) (*sdk.Process, error), sum []byte, nice int) func() (func(), error) {
		return func() (func(), error) {
			p, err := launch(ctx, sdk.LaunchConfig{Path: pluginPath, Logger: logger, SHA256: sum, Nice: nice})
			if err != nil {
				return nil, err
			}
			return p.Kill, nil
		}
	}
	launch := func(launch func(context.Context, sdk.LaunchConfig) (*sdk.Process, error), sum []byte) func() (func(), error) {
		return launchNice(launch, sum, 0)
	}
	ed25519Launch := func(ctx context.Context, cfg sdk.LaunchConfig) (*sdk.Process, error) {
		l := sdk.NewEd25519Launcher()
		defer l.Close()
		return l.Launch(ctx, cfg)
	}
	ways := []launchWay{
		{"p256/launch", launch(sdk.Launch, nil)},
		{"p256/launcher", launch(l.Launch, nil)},
		{"p256/launcher/sha256", launch(l.Launch, sum)},
		// As the host does with plugins.nice 10.
		{"p256/launcher/nice10", launchNice(l.Launch, nil, 10)},
		{"ed25519/launch", launch(ed25519Launch, nil)},
		{"auto-p521", func() (func(), error) { return sdk.LaunchAutoMTLS(ctx, pluginPath) }},
		{"floor", func() (func(), error) {
			cmd := exec.Command(pluginPath)
			cmd.Env = []string{"LRSBRIDGE_SINK_PLUGIN=d2b3b8f1-lrsbridge-sink", "PLUGIN_PROTOCOL_VERSIONS=1"}
			out, err := cmd.StdoutPipe()
			if err != nil {
				return nil, err
			}
			if err := cmd.Start(); err != nil {
				return nil, err
			}
			_, err = bufio.NewReader(out).ReadString('\n')
			kill := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
			if err != nil {
				kill()
				return nil, err
			}
			return kill, nil
		}},
	}
	b.Run("interleaved", func(b *testing.B) { benchLaunchWays(b, ways) })
	b.Run("checksum-each-launch", func(b *testing.B) {
		benchLaunchWays(b, []launchWay{{"p256/launch/sha256", launch(sdk.Launch, sum)}})
	})
	// Each way alone, one launch after the other, as this benchmark
	// measured before it interleaved the ways.
	for _, w := range ways {
		b.Run("alone/"+w.name, func(b *testing.B) { benchLaunchWays(b, []launchWay{w}) })
	}
}

// launchWay is a way of starting a plugin for BenchmarkLaunch: launch
// starts one and returns how to stop it.
type launchWay struct {
	name   string
	launch func() (kill func(), err error)
}

// benchLaunchWays starts one plugin each way per iteration, beginning with
// the next way each time so that no way always follows the same one, and
// reports the median and 99th percentile start time of each way.
func benchLaunchWays(b *testing.B, ways []launchWay) {
	times := make([][]time.Duration, len(ways))
	b.ReportAllocs()
	first := 0
	for b.Loop() {
		first++
		for k := range ways {
			i := (first + k) % len(ways)
			w := ways[i]
			start := time.Now()
			kill, err := w.launch()
			times[i] = append(times[i], time.Since(start))
			if err != nil {
				b.Fatalf("%s: %v", w.name, err)
			}
			b.StopTimer()
			kill()
			b.StartTimer()
		}
	}
	for i, w := range ways {
		ts := times[i]
		slices.Sort(ts)
		b.ReportMetric(float64(ts[len(ts)/2].Microseconds())/1000, w.name+"-p50-ms")
		b.ReportMetric(float64(ts[(len(ts)*99)/100].Microseconds())/1000, w.name+"-p99-ms")
	}
}

// BenchmarkLaunchSteps times each step of a launch through a Launcher
// (with a checksum; "fresh" with a new Launcher each time, "reused" with
// one), and reports the median of each: checking the binary (hash and
// sealed copy, or reusing the copy), the host's TLS identity, the plugin's
// key pair, the process start until its handshake line, the gRPC
// connection (TLS handshake included) and the dispense.
func BenchmarkLaunchSteps(b *testing.B) {
	sum := fileSum(b, pluginPath)
	reused := sdk.NewLauncher()
	b.Cleanup(func() { _ = reused.Close() })
	for _, mode := range []string{"fresh", "reused"} {
		b.Run(mode, func(b *testing.B) {
			took := map[string][]time.Duration{}
			var names []string
			for b.Loop() {
				l := reused
				if mode == "fresh" {
					l = sdk.NewLauncher()
				}
				steps, kill, err := sdk.LaunchSteps(l, pluginPath, sum)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				kill()
				if mode == "fresh" {
					_ = l.Close()
				}
				for _, s := range steps {
					if _, ok := took[s.Name]; !ok {
						names = append(names, s.Name)
					}
					took[s.Name] = append(took[s.Name], s.Took)
				}
				b.StartTimer()
			}
			for _, n := range names {
				ts := took[n]
				slices.Sort(ts)
				b.ReportMetric(float64(ts[len(ts)/2].Microseconds())/1000, n+"-p50-ms")
			}
		})
	}
}

func setSubreaper() error {
	return subreaper()
}

// TestLauncher_reusesVerifiedCopy checks that a Launcher starts a binary
// verified against its checksum from one sealed copy as long as the file
// is unchanged, and checks a file written to again: a changed file gets a
// new copy, or is refused when its checksum no longer matches.
func TestLauncher_reusesVerifiedCopy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sealed copies exist on Linux only")
	}
	path := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, pluginPath, path)
	sum := fileSum(t, path)
	l := sdk.NewLauncher()
	t.Cleanup(func() { _ = l.Close() })
	// exe returns what the process started by launch runs.
	exe := func(launch func(context.Context, sdk.LaunchConfig) (*sdk.Process, error)) os.FileInfo {
		t.Helper()
		proc, err := launch(testCtx(t), sdk.LaunchConfig{Path: path, SHA256: sum})
		if err != nil {
			t.Fatal(err)
		}
		defer proc.Kill()
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", proc.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	rewrite := func(b byte) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte{b}, 0); err != nil {
			t.Fatal(err)
		}
	}

	first, second := exe(l.Launch), exe(l.Launch)
	if !os.SameFile(first, second) {
		t.Error("two launches of an unchanged binary ran different copies; want the verified copy reused")
	}
	// The same bytes written again: the file changed as far as anyone
	// can tell without reading it, so it is read and checked again.
	head := make([]byte, 1)
	if f, err := os.Open(path); err != nil {
		t.Fatal(err)
	} else {
		_, err = f.ReadAt(head, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	rewrite(head[0])
	if third := exe(l.Launch); os.SameFile(first, third) {
		t.Error("a launch after the file was written to ran the old copy; want the file checked again")
	}
	rewrite(head[0] ^ 0xff)
	if proc, err := l.Launch(testCtx(t), sdk.LaunchConfig{Path: path, SHA256: sum}); !errors.Is(err, sdk.ErrChecksumMismatch) {
		if proc != nil {
			proc.Kill()
		}
		t.Fatalf("Launch of a binary changed in place = %v; want ErrChecksumMismatch", err)
	}
	rewrite(head[0])
	// Launch keeps nothing between calls.
	if a, b := exe(sdk.Launch), exe(sdk.Launch); os.SameFile(a, b) {
		t.Error("two calls of Launch ran the same copy; want each to verify its own")
	}
}

// TestLaunch_niceLowersEveryThread launches a real plugin with Nice and
// checks the priority of each of its threads, and that an out-of-range
// Nice is refused before anything starts.
func TestLaunch_niceLowersEveryThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("every thread is lowered from its start on Linux only")
	}
	own, err := procnice.Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	base := own[0]
	proc, err := sdk.Launch(testCtx(t), sdk.LaunchConfig{Path: pluginPath, Nice: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	nices, err := procnice.Threads(proc.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if len(nices) < 2 {
		t.Fatalf("plugin has %d threads, want several", len(nices))
	}
	for i, got := range nices {
		if got != min(base+6, 19) {
			t.Errorf("plugin thread %d runs at nice %d, want %d", i, got, min(base+6, 19))
		}
	}

	for _, nice := range []int{-1, 20} {
		p, err := sdk.Launch(testCtx(t), sdk.LaunchConfig{Path: pluginPath, Nice: nice})
		if err == nil {
			p.Kill()
			t.Errorf("Launch with Nice %d started a plugin, want an error", nice)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("nice is %d", nice)) {
			t.Errorf("Launch with Nice %d: %v, want it to name the value", nice, err)
		}
	}
}
