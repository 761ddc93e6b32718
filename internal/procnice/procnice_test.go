package procnice_test

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/internal/procnice"
)

// childEnv makes the test binary a child that starts threads, then prints
// the nice value of each of its threads, one per line.
const childEnv = "LRSBRIDGE_PROCNICE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
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
	// The thread that started the children ended with them: every thread
	// of this process still runs at its own priority.
	after, err := procnice.Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range after {
		if n != base {
			t.Errorf("thread %d of the host runs at nice %d after Start, want %d", i, n, base)
		}
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
