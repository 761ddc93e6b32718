//go:build unix

package flock

import (
	"errors"
	"os"
	"syscall"
)

// Lock takes an exclusive advisory lock on f without blocking, or returns
// ErrHeld. The kernel releases it when the process exits, however it
// exits.
func Lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrHeld
	}
	return err
}

// Release releases the lock Lock took on f, and closes f. Closing alone
// is not enough: the lock belongs to the open file, which a process forked
// meanwhile by another goroutine shares until it execs, so the lock would
// outlive the close for a moment.
func Release(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
