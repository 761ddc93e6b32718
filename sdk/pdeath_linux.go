package sdk

import "golang.org/x/sys/unix"

// setParentDeathSignal asks the kernel to send this process SIGTERM when its
// parent ends. It runs from this package's init function, which runs on the
// main thread: the setting belongs to the thread that makes it, and the main
// thread lives as long as the process.
func setParentDeathSignal() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
}
