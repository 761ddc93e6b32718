//go:build !unix

package fsync

// Dir does nothing where a directory cannot be opened to be fsynced.
func Dir(string) error { return nil }
