package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/learningflow/lrsbridge/host"
)

// guidePath is the sink author's guide, relative to this package.
const guidePath = "../../docs/writing-a-sink.md"

// guideBlock returns the fenced code block that follows the marker line
// "<!-- MARKER -->" in the guide.
func guideBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(guidePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "<!-- "+marker+" -->\n")
	if i < 0 {
		t.Fatalf("the guide has no block marked %q", marker)
	}
	rest := doc[i:]
	start := strings.Index(rest, "```")
	rest = rest[start:]
	rest = rest[strings.IndexByte(rest, '\n')+1:]
	end := strings.Index(rest, "```\n")
	if end < 0 {
		t.Fatalf("the block marked %q does not end", marker)
	}
	return rest[:end]
}

// TestGuide_kitSnippet keeps the guide's conformance kit example identical
// to the webhook's kit test, which compiles and passes.
func TestGuide_kitSnippet(t *testing.T) {
	const file = "webhook/kit_test.go"
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := guideBlock(t, "file: examples/custom-sink/webhook/kit_test.go"); got != string(want) {
		t.Errorf("the guide's kit example differs from %s; copy the file into the guide", file)
	}
}

// TestGuide_yaml loads the guide's host configuration example.
func TestGuide_yaml(t *testing.T) {
	cfg, err := host.LoadConfigYAML([]byte(guideBlock(t, "yaml: host configuration")), []string{})
	if err != nil {
		t.Fatalf("the guide's YAML does not load: %v", err)
	}
	if len(cfg.Plugins.SHA256["custom-sink"]) != 64 {
		t.Errorf("plugins.sha256.custom-sink = %q; want a checksum", cfg.Plugins.SHA256["custom-sink"])
	}
	sinks := cfg.Orgs["acme"].Sinks
	if len(sinks) != 1 || sinks[0].Plugin != "custom-sink" || sinks[0].Config["url"] == nil {
		t.Errorf("orgs.acme.sinks = %+v; want one custom-sink integration with a url", sinks)
	}
}

// TestGuide_outOfTreeModule builds the guide's out-of-tree sink from its
// go.mod and main.go as written, next to a checkout of lrsbridge.
func TestGuide_outOfTreeModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(root, filepath.Join(dir, "lrsbridge")); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "acme-sink")
	if err := os.Mkdir(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, marker := range map[string]string{"go.mod": "file: go.mod", "main.go": "file: main.go"} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(guideBlock(t, marker)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The checksums of lrsbridge's requirements, which a user's go mod
	// tidy would fetch from the checksum database.
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sums, 0o644); err != nil {
		t.Fatal(err)
	}
	// go build -mod=mod completes go.mod the way go mod tidy would for the
	// build; tidy itself also wants test-only modules of dependencies that
	// the cache may not hold.
	for _, args := range [][]string{{"build", "-o", filepath.Join(dir, "acme-sink.bin"), "."}, {"vet", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		// Everything comes from the module cache the repository's own
		// build filled: the test needs no network.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
