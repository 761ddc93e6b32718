//go:build unix && !linux

package procnice

import (
	"os/exec"

	"golang.org/x/sys/unix"
)

func start(cmd *exec.Cmd, nice int) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	if cur, err := unix.Getpriority(unix.PRIO_PROCESS, cmd.Process.Pid); err == nil {
		// Best effort: a process that cannot be reniced still runs.
		_ = unix.Setpriority(unix.PRIO_PROCESS, cmd.Process.Pid, min(cur+nice, Max))
	}
	return nil
}
