//go:build !linux

package sdk_test

import "errors"

func subreaper() error { return errors.New("not on this system") }
