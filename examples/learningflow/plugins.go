package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// modulePath is the module whose plugins the demo builds.
const modulePath = "github.com/learningflow/lrsbridge"

// builtinPlugins are the plugins of this repository, by name; each is built
// from ./plugins/<name>.
var builtinPlugins = []string{"archive", "lrs", "mock"}

// errNoToolchain is returned by ensurePlugins when plugins are missing and
// cannot be built because the go command or the module source is not found.
var errNoToolchain = errors.New("cannot build plugins: the go command or the lrsbridge source tree was not found")

// ensurePlugins makes sure dir holds an executable for every name of
// needed. When the go command and the lrsbridge module root are found, it
// runs one "go build" of all built-in plugins (the go command's cache makes
// this quick when nothing changed, and keeps the binaries in step with the
// source); otherwise it only checks that the needed binaries exist. Third
// party plugins must already be in dir. It writes what it does to w.
func ensurePlugins(ctx context.Context, dir string, needed []string, w io.Writer) error {
	build := builtinPlugins
	builtinNeeded := false
	for _, name := range needed {
		builtinNeeded = builtinNeeded || slices.Contains(builtinPlugins, name)
	}
	root, rootErr := moduleRoot()
	goCmd, goErr := goCommand()
	if rootErr == nil && goErr == nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create plugin directory: %w", err)
		}
		args := []string{"build", "-o", dir + string(filepath.Separator)}
		for _, name := range build {
			args = append(args, "./plugins/"+name)
		}
		fmt.Fprintf(w, "building plugins %s into %s (go %s)\n", strings.Join(build, ", "), dir, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build plugins: %w\n%s", err, out.Bytes())
		}
	}
	var missing []string
	for _, name := range needed {
		if !isExecutable(filepath.Join(dir, name)) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if builtinNeeded && (rootErr != nil || goErr != nil) {
		return fmt.Errorf("%w (%v); plugins missing from %s: %s", errNoToolchain, errors.Join(rootErr, goErr), dir, strings.Join(missing, ", "))
	}
	return fmt.Errorf("plugins missing from %s: %s", dir, strings.Join(missing, ", "))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0)
}

// goCommand finds the go command: the one of the toolchain that built this
// program first (so "go run" uses the same version), then the one on PATH.
func goCommand() (string, error) {
	if root := runtime.GOROOT(); root != "" { //nolint:staticcheck // the toolchain's own go command is the best match when known
		p := filepath.Join(root, "bin", "go")
		if runtime.GOOS == "windows" {
			p += ".exe"
		}
		if isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go command: %w", err)
	}
	return p, nil
}

// moduleRoot walks up from the working directory to the go.mod of the
// lrsbridge module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isModule(data, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s in the working directory or above", modulePath)
		}
		dir = parent
	}
}

// isModule reports whether a go.mod declares module path.
func isModule(gomod []byte, path string) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" && strings.Trim(f[1], `"`) == path {
			return true
		}
	}
	return false
}

// defaultPluginDir is where the demo keeps the plugins it builds: the
// user's cache directory, or the data directory when there is none.
func defaultPluginDir(dataDir string) string {
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "lrsbridge", "plugins")
	}
	return filepath.Join(dataDir, "plugins")
}

// checkPlugins checks that dir holds an executable for every name of
// needed, without building anything (a -config run uses its plugins as
// they are).
func checkPlugins(dir string, needed []string) error {
	var missing []string
	for _, name := range needed {
		if !isExecutable(filepath.Join(dir, name)) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("plugins missing from %s (plugins.dir): %s; install them there, or run the demo without -config to build the built-in ones", dir, strings.Join(missing, ", "))
	}
	return nil
}
