package archive

import (
	"errors"
	"fmt"
	"os"

	"github.com/learningflow/lrsbridge/internal/flock"
)

// lockFile takes an exclusive lock on f without blocking (on Unix; where
// flock is unavailable only the in-process registry keeps writers apart).
func lockFile(f *os.File) error {
	err := flock.Lock(f)
	if errors.Is(err, flock.ErrHeld) {
		return ErrLocked
	}
	if err != nil {
		return fmt.Errorf("lock archive: %w", err)
	}
	return nil
}
