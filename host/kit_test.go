package host_test

import (
	"testing"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

// testPlugins are the plugins of this test binary.
var testPlugins hosttest.Plugins

// init hands the helpers of host/hosttest to the tests of package host,
// which cannot import it.
func init() {
	host.SetTestKit(func(t testing.TB) string { t.Helper(); return testPlugins.Dir(t) }, testPlugins.Remove, hosttest.Config, hosttest.New)
}
