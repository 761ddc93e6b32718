package procnice_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/internal/procnice"
)

// childEnv makes the test binary a child that starts threads, then prints
// the nice value of each of its threads, one per line.
const childEnv = "LRSBRIDGE_PROCNICE_CHILD"

// waitChildEnv makes the test binary a child that exits once its standard
// input closes.
const waitChildEnv = "LRSBRIDGE_PROCNICE_WAIT"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	if os.Getenv(waitChildEnv) != "" {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child() int {
	// Goroutines locked to threads while they sleep make the runtime
	// start new threads, after the process began.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			runtime.LockOSThread()
			time.Sleep(50 * time.Millisecond)
		})
	}
	time.Sleep(10 * time.Millisecond)
	nices, err := procnice.Threads(os.Getpid())
	wg.Wait()
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	for _, n := range nices {
		os.Stdout.WriteString(strconv.Itoa(n) + "\n")
	}
	return 0
}

func TestStartLowersEveryThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("every thread is lowered from its start on Linux only")
	}
	own, err := procnice.Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	base := own[0]
	for _, nice := range []int{0, 7, procnice.Max} {
		t.Run(strconv.Itoa(nice), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := procnice.Start(cmd, nice); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("child: %v: %s", err, out.Bytes())
			}
			lines := strings.Fields(out.String())
			if len(lines) < 5 {
				t.Fatalf("child reported %d threads, want at least 5: %q", len(lines), out.String())
			}
			want := strconv.Itoa(min(base+nice, procnice.Max))
			for i, l := range lines {
				if l != want {
					t.Errorf("thread %d of the child runs at nice %s, want %s", i, l, want)
				}
			}
		})
	}
	// Only the threads that start children, one per nice value used in
	// this process (3, 7 and 19 by this package's tests), run at a
	// lowered priority: no other thread of this process was lowered.
	after, err := procnice.Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{min(base+3, procnice.Max): true, min(base+7, procnice.Max): true, min(base+19, procnice.Max): true}
	seen := map[int]int{}
	for _, n := range after {
		if n == base {
			continue
		}
		seen[n]++
		if !used[n] || seen[n] > 1 {
			t.Errorf("threads of the host after Start run at nice %v (the host at %d), want at most one thread per nice value used", after, base)
			break
		}
	}
}

// TestStartedProcessOutlivesTheCall starts a child that asks to be killed
// when the thread that started it ends (as plugins do), and checks that it
// is still running well after Start returned: Linux counts the starting
// thread, not the process, as the parent, so that thread must live on.
func TestStartedProcessOutlivesTheCall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent death signal is Linux's")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), waitChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := procnice.Start(cmd, 3); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child started with nice 3 ended with %v, want a clean exit once its input closed", err)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		nice int
		want string
	}{
		{0, ""},
		{10, ""},
		{19, ""},
		{-1, "nice is -1, want 0 (the host's priority) to 19 (the lowest)"},
		{20, "nice is 20, want 0 (the host's priority) to 19 (the lowest)"},
	} {
		got := ""
		if err := procnice.Check(tc.nice); err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Check(%d) (-want +got):\n%s", tc.nice, diff)
		}
	}
}

func TestStartRefusesOutOfRange(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := procnice.Start(cmd, -5); err == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("Start with nice -5 started the process, want an error")
	}
	if cmd.Process != nil {
		t.Fatal("Start with nice -5 left a process")
	}
}
