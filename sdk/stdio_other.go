//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package sdk

import "errors"

func redirectStdout() (int, error) {
	return -1, errors.New("not supported on this platform")
}
