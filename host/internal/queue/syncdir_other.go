//go:build !unix

package queue

// syncDir does nothing where directories cannot be opened for fsync.
func syncDir(string) error { return nil }
