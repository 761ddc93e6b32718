package archive_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sinks/archive"
)

// TestParseConfig_compatible is a table of configurations the archive sink
// accepted before it decoded with sdk.DecodeConfig, with the Config they
// gave: they must still be accepted, with the same meaning.
func TestParseConfig_compatible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		in   map[string]any
		want archive.Config
	}{
		{"dir only", map[string]any{"dir": dir}, archive.Config{Dir: dir, RotateBytes: archive.DefaultRotateBytes, Gzip: true}},
		{"dir not created yet", map[string]any{"dir": dir + "/new"}, archive.Config{Dir: dir + "/new", RotateBytes: archive.DefaultRotateBytes, Gzip: true}},
		{"rotate number", map[string]any{"dir": dir, "rotate_bytes": float64(1 << 20)}, archive.Config{Dir: dir, RotateBytes: 1 << 20, Gzip: true}},
		{"rotate int", map[string]any{"dir": dir, "rotate_bytes": 4096}, archive.Config{Dir: dir, RotateBytes: 4096, Gzip: true}},
		{"rotate off", map[string]any{"dir": dir, "rotate_bytes": 0.0}, archive.Config{Dir: dir, RotateBytes: 0, Gzip: true}},
		{"gzip off", map[string]any{"dir": dir, "gzip": false}, archive.Config{Dir: dir, RotateBytes: archive.DefaultRotateBytes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := archive.ParseConfig(tt.in)
			if err != nil {
				t.Fatalf("ParseConfig = %v; want the configuration accepted", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}
