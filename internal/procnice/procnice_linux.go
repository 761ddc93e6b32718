package procnice

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

func start(cmd *exec.Cmd, nice int) error {
	done := make(chan error, 1)
	go lowerAndStart(cmd, nice, done)
	return <-done
}

// lowerAndStart runs on a goroutine of its own: it lowers the priority of
// its thread and starts cmd from it. The thread is never unlocked, so the
// runtime ends it with the goroutine instead of running other goroutines
// at the lowered priority. The runtime cannot end the main thread (it would
// park it for good), so on the main thread it holds that thread and does
// the work on another goroutine, which then runs on another thread.
func lowerAndStart(cmd *exec.Cmd, nice int, done chan<- error) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	if tid == unix.Getpid() {
		inner := make(chan error, 1)
		go lowerAndStart(cmd, nice, inner)
		err := <-inner
		runtime.UnlockOSThread()
		done <- err
		return
	}
	cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		done <- fmt.Errorf("read thread priority: %w", err)
		return
	}
	// The raw getpriority system call returns 20 - nice.
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-cur+nice, Max)); err != nil {
		done <- fmt.Errorf("lower thread priority: %w", err)
		return
	}
	done <- cmd.Start()
}
