package sinktest_test

import (
	"context"
	"testing"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// nopSink delivers everything; it stands in for a real sink.
type nopSink struct{}

func (nopSink) Deliver(context.Context, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	return sdk.DeliverResponse{}, nil
}
func (nopSink) Close(context.Context) error { return nil }

// A sink's own test runs the kit with a harness that points instances at a
// scripted test server. This one can only make instances that deliver, so
// the kit skips the checks that need the other behaviours.
func ExampleRun() {
	// In a real test file:
	//
	//	func TestConformance(t *testing.T) { sinktest.Run(t, harness) }
	harness := sinktest.Harness{
		Provider: sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
			return nopSink{}, nil
		}),
		Config: func(_ testing.TB, s sinktest.Scenario) map[string]any {
			if s.Behavior != sinktest.Deliver {
				return nil // cannot behave this way: the check is skipped
			}
			return map[string]any{"endpoint": "http://127.0.0.1:8080"}
		},
	}
	_ = harness
}
