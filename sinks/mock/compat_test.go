package mock_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/mock"
)

// TestParseConfig_compatible is a table of configurations the mock sink
// accepted before it decoded with sdk.DecodeConfig, with the Config they
// gave: they must still be accepted, with the same meaning.
func TestParseConfig_compatible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   map[string]any
		want mock.Config
	}{
		{"empty", map[string]any{}, mock.Config{XAPIVersion: xapi.V200}},
		{"version", map[string]any{"xapi_version": "1.0.3"}, mock.Config{XAPIVersion: xapi.V103}},
		{"numbers", map[string]any{"fail_first": float64(3), "crash_on_batch": 2}, mock.Config{XAPIVersion: xapi.V200, FailFirst: 3, CrashOnBatch: 2}},
		{"durations as text", map[string]any{"fail_first": 1, "retry_after": "2s", "latency": "150ms"},
			mock.Config{XAPIVersion: xapi.V200, FailFirst: 1, RetryAfter: 2 * time.Second, Latency: 150 * time.Millisecond}},
		{"durations as seconds", map[string]any{"fail_first": 1.0, "retry_after": 1.5, "latency": 2},
			mock.Config{XAPIVersion: xapi.V200, FailFirst: 1, RetryAfter: 1500 * time.Millisecond, Latency: 2 * time.Second}},
		{"auth fail", map[string]any{"auth_fail": "unauthenticated"}, mock.Config{XAPIVersion: xapi.V200, AuthFail: mock.AuthUnauthenticated}},
		{"record file", map[string]any{"record_file": "/nonexistent-dir/rec.ndjson"}, mock.Config{XAPIVersion: xapi.V200, RecordFile: "/nonexistent-dir/rec.ndjson"}},
		{"rules", map[string]any{"reject": []any{map[string]any{"contains": "x"}}},
			mock.Config{XAPIVersion: xapi.V200, Reject: []mock.Rule{{Contains: "x", Message: "statement rejected by rule 0"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mock.ParseConfig(tt.in)
			if err != nil {
				t.Fatalf("ParseConfig = %v; want the configuration accepted", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(mock.Rule{})); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}
