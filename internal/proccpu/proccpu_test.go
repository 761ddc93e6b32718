package proccpu

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestSecondsGrowsWithWork checks that the CPU time read for this process
// grows by about what a busy loop spent, and that a process that does not
// exist reads as 0.
func TestSecondsGrowsWithWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before := Seconds(os.Getpid())
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	if got := Seconds(os.Getpid()) - before; got < 0.1 {
		t.Errorf("CPU time grew by %.2f s over 0.3 s of busy loop, want at least 0.1 s", got)
	}
	if got := Seconds(1 << 30); got != 0 {
		t.Errorf("Seconds of a process that does not exist = %v, want 0", got)
	}
}
