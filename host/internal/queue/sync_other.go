//go:build !linux

package queue

import "os"

// datasync flushes f to stable storage. Outside Linux it is a full fsync
// (on macOS, F_FULLFSYNC through os.File.Sync).
func datasync(f *os.File) error { return f.Sync() }
