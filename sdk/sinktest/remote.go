package sinktest

import (
	"log/slog"
	"testing"
	"time"
)

// RunRemote checks a sink that already runs behind a plugin connection, for
// example a plugin process written in another language that the test started
// with [sdk.Launch]: h.Provider is the process's Provider, and every check of
// [Run] goes over that real connection, in the subtest "remote". Checks that
// compare a direct instance with a remote one do not apply, nor do those that
// need names the kit resolves itself; they are skipped.
func RunRemote(t *testing.T, h Harness) {
	t.Helper()
	if h.Provider == nil || h.Config == nil {
		t.Fatal("sinktest: Harness needs a Provider and a Config function")
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.remote = true
	t.Run("remote", func(t *testing.T) {
		runChecks(t, h, h.Provider, nil)
	})
}
