package hosttest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Module is the module path of lrsbridge; its plugins are built from
// Module + "/plugins/" + name.
const Module = "github.com/learningflow/lrsbridge"

// builtin are the plugins of lrsbridge that Plugins.Dir builds when it is
// given no names.
var builtin = []string{"archive", "lrs", "mock"}

// Plugins builds plugin executables for the tests of one test binary: each
// plugin is built once, into one temporary directory, however many tests
// ask for it. The zero value is ready to use; it is safe for concurrent use
// by parallel tests. Declare one per test package and remove its directory
// when the tests are done, in TestMain:
//
//	var plugins hosttest.Plugins
//
//	func TestMain(m *testing.M) {
//		defer plugins.Remove()
//		m.Run()
//	}
//
// It runs "go build" in the test's working directory, so the plugins are
// built from the source that the module of the test requires: in lrsbridge
// itself that is the working tree, in an embedder's module the lrsbridge
// version of its go.mod. The go command must be on PATH, as it is under
// "go test".
type Plugins struct {
	mu    sync.Mutex
	dir   string
	built map[string]error // by executable name: nil once built
}

// Dir returns a directory holding an executable for every one of names,
// building those it has not built yet; with no names, the built-in plugins
// archive, lrs and mock. A name is a plugin of lrsbridge ("lrs" is built
// from Module/plugins/lrs) or the import path of a main package, whose
// executable is named after its last element. A build that fails fails
// the test, and every later test that asks for that plugin, with the go
// command's output. Use the directory as host.Config.Plugins.Dir.
func (p *Plugins) Dir(t testing.TB, names ...string) string {
	t.Helper()
	dir, err := p.build(names)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// build is Dir without the test.
func (p *Plugins) build(names []string) (string, error) {
	if len(names) == 0 {
		names = builtin
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		dir, err := os.MkdirTemp("", "lrsbridge-plugins-")
		if err != nil {
			return "", fmt.Errorf("create the plugin directory: %w", err)
		}
		p.dir, p.built = dir, map[string]error{}
	}
	var pkgs []string
	var errs []error
	for _, name := range names {
		pkg, exe := pluginPackage(name)
		err, seen := p.built[exe]
		switch {
		case !seen:
			pkgs = append(pkgs, pkg)
		case err != nil:
			errs = append(errs, err)
		}
	}
	if len(pkgs) > 0 {
		err := goBuild(p.dir, pkgs)
		for _, pkg := range pkgs {
			p.built[path.Base(pkg)] = err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return p.dir, nil
	case 1:
		return "", errs[0]
	default:
		return "", errors.Join(errs...)
	}
}

// Remove deletes the directory of the built plugins, if any; plugins asked
// for afterwards are built again.
func (p *Plugins) Remove() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		return nil
	}
	err := os.RemoveAll(p.dir)
	p.dir, p.built = "", nil
	return err
}

// pluginPackage returns the import path of a plugin name and the name of
// its executable.
func pluginPackage(name string) (pkg, exe string) {
	if !strings.Contains(name, "/") {
		name = Module + "/plugins/" + name
	}
	return name, path.Base(name)
}

// goBuild builds the main packages pkgs into dir with one go command.
func goBuild(dir string, pkgs []string) error {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build plugins %s: the go command is not on PATH (run the tests with go test): %w", strings.Join(pkgs, ", "), err)
	}
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command(gocmd, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build plugins %s: %w\n%s", strings.Join(pkgs, ", "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
