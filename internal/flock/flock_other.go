//go:build !unix

package flock

import "os"

// Lock does nothing where flock is not available: keeping processes out of
// each other's directories is then the embedder's responsibility.
func Lock(*os.File) error { return nil }

// Release closes f.
func Release(f *os.File) error { return f.Close() }
