//go:build unix

package sdk

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without blocking on a FIFO with
// no writer or a device that waits for a carrier.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
