//go:build !unix

package queue

import "os"

// lockFile does nothing where flock is not available: one process per data
// directory is then the embedder's responsibility.
func lockFile(*os.File) error { return nil }

// syncDir does nothing where directories cannot be opened for fsync.
func syncDir(string) error { return nil }
