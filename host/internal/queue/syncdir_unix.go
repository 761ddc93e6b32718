//go:build unix

package queue

import "os"

// syncDir fsyncs a directory so that the creation, renaming and removal of
// its entries are durable.
func syncDir(dir string) error {
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
