// Package procnice starts processes at a lower CPU priority than their
// parent: a plugin process that delivers statements at full speed then
// gives way to the host's own threads, whose Record calls wait on the disk
// and must run as soon as the disk answers.
package procnice

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Max is the largest nice value: the lowest priority.
const Max = 19

// Check reports a nice value outside 0..Max. Negative values, a higher
// priority than the host's, would need privileges and are refused.
func Check(nice int) error {
	if nice < 0 || nice > Max {
		return fmt.Errorf("nice is %d, want 0 (the host's priority) to %d (the lowest)", nice, Max)
	}
	return nil
}

// Start starts cmd as cmd.Start does, with nice added to the process's
// niceness (0 starts it as cmd.Start does). nice must pass [Check].
//
// On Linux every thread of the new process runs at the lower priority from
// its first instruction: cmd is started from an operating-system thread
// whose niceness was raised (a new process inherits the niceness of the
// thread that starts it). There is one such thread per nice value, made
// at the first Start with it; it lives as long as the process and runs
// nothing but Start calls. Elsewhere on Unix the niceness is set once the
// process started, and threads it made before then may keep the host's.
// On other systems nice is ignored.
func Start(cmd *exec.Cmd, nice int) error {
	if err := Check(nice); err != nil {
		return err
	}
	if nice == 0 {
		return cmd.Start()
	}
	return start(cmd, nice)
}

// Threads returns the nice value of every thread of the process pid, from
// /proc (Linux only: elsewhere it returns an error). Tests use it to check
// what Start did; an operator sees the same in `ps -L -o tid,ni`.
func Threads(pid int) ([]int, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("threads of process %d: %w", pid, err)
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("thread %s of process %d: %w", t.Name(), pid, err)
		}
		// The fields after the command name, which is in parentheses
		// and may hold anything: the state is field 3, nice field 19.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 17 {
			return nil, fmt.Errorf("thread %s of process %d: stat has %d fields", t.Name(), pid, len(f)+2)
		}
		n, err := strconv.Atoi(f[16])
		if err != nil {
			return nil, fmt.Errorf("thread %s of process %d: nice %q: %w", t.Name(), pid, f[16], err)
		}
		out = append(out, n)
	}
	return out, nil
}
