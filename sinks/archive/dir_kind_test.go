package archive_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// TestParseConfig_dirKind checks that dir must be a directory when it
// exists, and that the answer does not say what else it is.
func TestParseConfig_dirKind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, os.DevNull} {
		_, err := archive.ParseConfig(map[string]any{"dir": p})
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("ParseConfig(dir %s) = %v; want a *sdk.ConfigError", p, err)
		}
		want := []sdk.FieldError{{Field: "dir", Message: sdk.ErrSettingPath.Error()}}
		if diff := cmp.Diff(want, ce.Fields); diff != "" {
			t.Errorf("ParseConfig(dir %s) (-want +got):\n%s", p, diff)
		}
	}
}
