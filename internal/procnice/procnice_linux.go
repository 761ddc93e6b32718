package procnice

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// spawners holds one spawner per nice value, made on first use.
var spawners sync.Map // int -> *spawnerOnce

type spawnerOnce struct {
	once sync.Once
	s    *spawner
	err  error
}

func start(cmd *exec.Cmd, nice int) error {
	v, _ := spawners.LoadOrStore(nice, &spawnerOnce{})
	so := v.(*spawnerOnce)
	so.once.Do(func() { so.s, so.err = newSpawner(nice) })
	if so.err != nil {
		return so.err
	}
	done := make(chan error, 1)
	so.s.req <- spawn{cmd: cmd, done: done}
	return <-done
}

// A spawner is an operating-system thread of lowered priority that starts
// processes, which inherit its priority. It lives as long as the host:
// Linux counts the thread that started a process as its parent, and a
// process that asked to be signalled when its parent dies (as plugins do,
// PR_SET_PDEATHSIG) would be killed if that thread ended. Its goroutine is
// locked to the thread and does nothing else, so no other goroutine runs
// at the lowered priority.
type spawner struct {
	req chan spawn
	// locked receives once a goroutine of the spawner holds a thread
	// other than the main one.
	locked chan struct{}
}

type spawn struct {
	cmd  *exec.Cmd
	done chan<- error
}

func newSpawner(nice int) (*spawner, error) {
	s := &spawner{req: make(chan spawn), locked: make(chan struct{}, 1)}
	ready := make(chan error, 1)
	go s.run(nice, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return s, nil
}

func (s *spawner) run(nice int, ready chan<- error) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	if tid == unix.Getpid() {
		// The main thread: hold it until another goroutine has locked
		// a thread of its own, then give it back.
		go s.run(nice, ready)
		<-s.locked
		runtime.UnlockOSThread()
		return
	}
	select {
	case s.locked <- struct{}{}:
	default:
	}
	cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		ready <- fmt.Errorf("read thread priority: %w", err)
		return
	}
	// The raw getpriority system call returns 20 - nice.
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-cur+nice, Max)); err != nil {
		ready <- fmt.Errorf("lower thread priority: %w", err)
		return
	}
	ready <- nil
	for r := range s.req {
		r.done <- r.cmd.Start()
	}
}
