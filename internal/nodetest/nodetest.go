// Package nodetest finds what tests that run Node.js programs need: node
// and a directory's installed npm dependencies. Without them the test is
// skipped, unless CI is set (.ci/run installs both), when it fails.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Node returns the path of node, after checking that dir has the npm
// package module installed (for example "@grpc/grpc-js").
func Node(t testing.TB, dir, module string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; .ci/run installs Debian's nodejs")
		}
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(module))); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the npm dependencies are not installed: run npm ci in %s", dir)
		}
		t.Skipf("npm dependencies not installed (npm ci in %s)", dir)
	}
	return node
}
