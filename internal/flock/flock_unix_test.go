//go:build unix

package flock

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReleaseWhileShared checks that the lock is free once Release
// returns, even while another descriptor of the same open file exists, as
// in a process forked meanwhile by another goroutine that has not yet
// exec'd: a new lock on the file then succeeds, and keeps others out.
func TestReleaseWhileShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	if err := Lock(f); err != nil {
		t.Fatal(err)
	}
	shared, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(shared)
	if err := Release(f); err != nil {
		t.Fatal(err)
	}
	g := open()
	defer g.Close()
	if err := Lock(g); err != nil {
		t.Fatalf("Lock after Release, the open file still shared: %v", err)
	}
	h := open()
	defer h.Close()
	if err := Lock(h); !errors.Is(err, ErrHeld) {
		t.Errorf("Lock of a file another open file holds = %v, want ErrHeld", err)
	}
}
