package sinktest_test

import (
	"testing"

	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// scriptedConfig makes the scripted sink behave as each scenario asks.
func scriptedConfig(extra map[string]any) func(testing.TB, sinktest.Scenario) map[string]any {
	return func(_ testing.TB, s sinktest.Scenario) map[string]any {
		cfg := map[string]any{}
		for k, v := range extra {
			cfg[k] = v
		}
		switch s.Behavior {
		case sinktest.Deliver:
			cfg["mode"] = scripted.ModeDeliver
		case sinktest.Reject:
			cfg["mode"] = scripted.ModeReject
			ids := make([]any, len(s.Reject))
			for i, id := range s.Reject {
				ids[i] = id
			}
			cfg["reject"] = ids
		case sinktest.FailRetryable:
			cfg["mode"] = scripted.ModeRetryable
		case sinktest.FailRetryAfter:
			cfg["mode"] = scripted.ModeRetryAfter
			cfg["retry_after_ms"] = float64(s.RetryAfter.Milliseconds())
		case sinktest.FailUnauthenticated:
			cfg["mode"] = scripted.ModeUnauthenticated
		case sinktest.FailForbidden:
			cfg["mode"] = scripted.ModeForbidden
		case sinktest.Stall:
			cfg["mode"] = scripted.ModeStall
		case sinktest.InvalidConfig:
			cfg["mode"] = "no such mode"
		default:
			return nil
		}
		return cfg
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]any
	}{
		{name: "plain", extra: nil},
		{name: "tester", extra: map[string]any{"tester": true}},
		{name: "version", extra: map[string]any{"xapi_version": "2.0.0"}},
		{name: "tester and version", extra: map[string]any{"tester": true, "xapi_version": "2.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{
				Provider: scripted.Provider(),
				Config:   scriptedConfig(tt.extra),
			})
		})
	}
}
