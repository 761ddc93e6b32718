//go:build !linux

package sdk

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
// The plugin still notices its host's end through its standard input.
func setParentDeathSignal() {}
