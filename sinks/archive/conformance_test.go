package archive_test

import (
	"testing"

	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// TestConformance runs the sdk conformance kit. The archive accepts every
// valid statement, so the kit's checks of rejections, error classes and
// stalls are skipped: a local disk cannot be scripted to fail that way.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Provider: archive.NewProvider(),
		Config: func(t testing.TB, s sinktest.Scenario) map[string]any {
			switch s.Behavior {
			case sinktest.Deliver:
				return map[string]any{"dir": t.TempDir(), "rotate_bytes": float64(4096)}
			case sinktest.InvalidConfig:
				return map[string]any{"dir": 42, "gzip": "yes", "colour": "blue"}
			}
			return nil
		},
	})
}
