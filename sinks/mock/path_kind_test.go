package mock_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/mock"
)

// TestParseConfig_recordFileKind checks that record_file must be a regular
// file when it exists, so that statements are never written into a FIFO,
// a device or a directory, and that the answer does not say why.
func TestParseConfig_recordFileKind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	regular := filepath.Join(dir, "rec.ndjson")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path    string
		wantErr bool
	}{
		{regular, false},
		{filepath.Join(dir, "new.ndjson"), false},
		{fifo, true},
		{os.DevNull, true},
		{dir, true},
	} {
		_, err := mock.ParseConfig(map[string]any{"record_file": tt.path})
		var ce *sdk.ConfigError
		if !tt.wantErr {
			if err != nil {
				t.Errorf("ParseConfig(record_file %s) = %v", tt.path, err)
			}
			continue
		}
		if !errors.As(err, &ce) {
			t.Fatalf("ParseConfig(record_file %s) = %v; want a *sdk.ConfigError", tt.path, err)
		}
		want := []sdk.FieldError{{Field: "record_file", Message: sdk.ErrSettingPath.Error()}}
		if diff := cmp.Diff(want, ce.Fields); diff != "" {
			t.Errorf("ParseConfig(record_file %s) (-want +got):\n%s", tt.path, diff)
		}
	}
}
