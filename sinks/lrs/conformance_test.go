package lrs

import (
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// TestConformance runs the sdk conformance kit against the sink, each
// scenario served by an lrstest LRS on loopback.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Provider:      NewProvider(),
		Egress:        loopbackPolicy,
		EgressSetting: KeyEndpoint,
		Timeout:       10 * time.Second,
		Config: lrstest.Scenarios(lrstest.ScenarioSink{
			Key: testKey, Secret: testSecret, SecretSetting: KeySecret,
			Config:  baseConfig,
			Invalid: map[string]any{KeyEndpoint: "ftp://lrs.example.com/", KeyXAPIVersion: "0.9"},
		}),
	})
}
