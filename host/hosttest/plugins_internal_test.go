package hosttest

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestPluginBuildFails asks for a plugin that does not exist: the error
// names it and carries the go command's output; asking again gives the
// same error without building again.
func TestPluginBuildFails(t *testing.T) {
	var p Plugins
	t.Cleanup(func() { p.Remove() })
	_, err := p.build([]string{"no-such-plugin"})
	if err == nil || !strings.Contains(err.Error(), Module+"/plugins/no-such-plugin") {
		t.Fatalf("build of a missing plugin: %v, want an error naming it", err)
	}
	_, again := p.build([]string{"no-such-plugin"})
	if !errors.Is(again, err) {
		t.Errorf("second build: %v, want the first error %v", again, err)
	}
	if entries, err := os.ReadDir(p.dir); err != nil || len(entries) != 0 {
		t.Errorf("plugin directory after a failed build: %v %v, want it empty", entries, err)
	}
}
