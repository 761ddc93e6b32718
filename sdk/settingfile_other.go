//go:build !unix

package sdk

import "os"

// openNonBlocking opens path for reading; systems without FIFOs in the
// file system need nothing special.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
