//go:build !unix

package archive

import "os"

// lockFile does nothing where flock is unavailable: only the in-process
// registry keeps writers apart there.
func lockFile(*os.File) error { return nil }
