//go:build unix

package fsync

import "os"

// Dir fsyncs the directory dir, so that the creation, renaming and
// removal of its entries survive a crash.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
