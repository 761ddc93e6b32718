package host

import (
	"encoding"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/knadh/koanf/parsers/yaml"
)

// The README's configuration reference and docs/operations.md's tables are
// checked against the code here, so that they cannot drift from it.

// docRead returns a file of the repository, named relative to its root.
func docRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../" + name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// docSection returns the text of the markdown section whose heading is
// heading, up to the next heading of the same or a higher level.
func docSection(t *testing.T, doc, name, heading string) string {
	t.Helper()
	level := strings.IndexByte(heading, ' ')
	start := strings.Index(doc, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no section %q", name, heading)
	}
	rest := doc[start+len(heading)+2:]
	for _, m := range regexp.MustCompile(`(?m)^#+ `).FindAllStringIndex(rest, -1) {
		if m[1]-m[0]-1 <= level && !docInFence(rest[:m[0]]) {
			return rest[:m[0]]
		}
	}
	return rest
}

// docInFence reports whether text ends inside a fenced code block.
func docInFence(text string) bool {
	return strings.Count(text, "\n```")%2 == 1
}

// docConfigYAML returns the YAML block of the README's configuration
// reference.
func docConfigYAML(t *testing.T) string {
	t.Helper()
	ref := docSection(t, docRead(t, "README.md"), "README.md", "## Configuration reference")
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(ref)
	if m == nil {
		t.Fatal("README.md's configuration reference has no ```yaml block")
	}
	return m[1]
}

// docConfigKeys returns every key that type t accepts under prefix, named as
// the reference writes them: "<name>" for an entry of a map of structs
// (orgs.<id>), "[]" for an element of a list of structs (sinks[]). A map
// of plain values or a plugin's opaque config is one key.
func docConfigKeys(t reflect.Type, prefix string) []string {
	if _, ok := reflect.New(t).Interface().(encoding.TextUnmarshaler); ok || t.Kind() != reflect.Struct || t == durationType {
		switch {
		case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
			return docConfigKeys(t.Elem(), prefix+".<name>")
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
			return docConfigKeys(t.Elem(), prefix+"[]")
		}
		return []string{prefix}
	}
	var out []string
	for name, ft := range structKeys(t) {
		out = append(out, docConfigKeys(ft, join(prefix, name))...)
	}
	return out
}

// docYAMLKeys returns the keys of a parsed YAML document named as
// docConfigKeys names them, walking t alongside; a key t does not have is
// returned as written, so that the comparison reports it.
func docYAMLKeys(v any, t reflect.Type, prefix string) []string {
	known := t != nil
	if known && t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct {
		m, _ := v.(map[string]any)
		var out []string
		for _, sub := range m {
			out = append(out, docYAMLKeys(sub, t.Elem(), prefix+".<name>")...)
		}
		return out
	}
	if known && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		list, _ := v.([]any)
		var out []string
		for _, sub := range list {
			out = append(out, docYAMLKeys(sub, t.Elem(), prefix+"[]")...)
		}
		return out
	}
	m, isMap := v.(map[string]any)
	if known && (t.Kind() != reflect.Struct || t == durationType) || !isMap {
		return []string{prefix}
	}
	var fields map[string]reflect.Type
	if known {
		fields = structKeys(t)
	}
	var out []string
	for k, sub := range m {
		out = append(out, docYAMLKeys(sub, fields[k], join(prefix, k))...)
	}
	return out
}

// docSet returns keys sorted, each once.
func docSet(keys []string) []string {
	set := map[string]bool{}
	for _, k := range keys {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestReadmeConfigReferenceListsEveryKey: every key the host accepts is in
// the README's YAML block, and every key there is one the host accepts.
func TestReadmeConfigReferenceListsEveryKey(t *testing.T) {
	raw, err := yaml.Parser().Unmarshal([]byte(docConfigYAML(t)))
	if err != nil {
		t.Fatalf("README.md's configuration block is not YAML: %v", err)
	}
	want := docSet(docConfigKeys(reflect.TypeFor[Config](), ""))
	got := docSet(docYAMLKeys(raw, reflect.TypeFor[Config](), ""))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("README.md's configuration reference and the host's keys differ (-host +README):\n%s", diff)
	}
}

// TestReadmeConfigReferenceLoads: the README's block is a configuration the
// host accepts, and outside orgs (an example) every value it shows is the
// default.
func TestReadmeConfigReferenceLoads(t *testing.T) {
	cfg, err := LoadConfigYAML([]byte(docConfigYAML(t)), []string{})
	if err != nil {
		t.Fatalf("README.md's configuration block does not load: %v", err)
	}
	if len(cfg.Orgs) == 0 {
		t.Error("README.md's configuration block shows no organization")
	}
	cfg.Orgs = nil
	if diff := cmp.Diff(DefaultConfig(), cfg, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("README.md's configuration reference shows values that are not the defaults (-default +README):\n%s", diff)
	}
}

// docTableColumn returns the first column of the markdown table rows in text,
// with backquoted names split out: "`a` / `b`" gives a and b.
func docTableColumn(text string) []string {
	var out []string
	name := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		for _, m := range name.FindAllStringSubmatch(cell, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// TestOperationsDocumentsEveryState: docs/operations.md's table of states
// describes every state Status reports, and no other.
func TestOperationsDocumentsEveryState(t *testing.T) {
	text := docSection(t, docRead(t, "docs/operations.md"), "docs/operations.md", "## States of an integration")
	if diff := cmp.Diff(docSet(States), docSet(docTableColumn(text))); diff != "" {
		t.Errorf("docs/operations.md's states and host.States differ (-host +doc):\n%s", diff)
	}
}

// TestOperationsDocumentsEveryMetric: docs/operations.md's metrics table
// lists every instrument the host registers, and no other.
func TestOperationsDocumentsEveryMetric(t *testing.T) {
	text := docSection(t, docRead(t, "docs/operations.md"), "docs/operations.md", "### Metrics")
	var doc []string
	for _, n := range docTableColumn(text) {
		if strings.HasPrefix(n, "lrsbridge.") {
			doc = append(doc, n)
		}
	}
	if diff := cmp.Diff(docSet(docMetricNames(t)), docSet(doc)); diff != "" {
		t.Errorf("docs/operations.md's metrics and the host's instruments differ (-host +doc):\n%s", diff)
	}
}

// docMetricNames returns the values of the Metric* constants of package
// host/internal/telemetry, the names of every instrument it registers.
func docMetricNames(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range docParseDir(t, "internal/telemetry") {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Metric") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatalf("%s: %v", id.Name, err)
					}
					out = append(out, s)
				}
			}
			return false
		})
	}
	if len(out) == 0 {
		t.Fatal("no Metric* constant found in host/internal/telemetry")
	}
	return out
}

// docSinkSettings returns the settings a built-in sink reads: the config tags
// of the structs in sinks/<name>.
func docSinkSettings(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, f := range docParseDir(t, "../sinks/"+name) {
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatalf("sinks/%s: tag %s: %v", name, field.Tag.Value, err)
			}
			if key, _, _ := strings.Cut(reflect.StructTag(tag).Get("config"), ","); key != "" {
				out = append(out, key)
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatalf("no config tag found in sinks/%s", name)
	}
	return out
}

// TestReadmeBuiltInSinksListEverySetting: the README's table of built-in
// sinks names every setting each sink reads.
func TestReadmeBuiltInSinksListEverySetting(t *testing.T) {
	text := docSection(t, docRead(t, "README.md"), "README.md", "## Built-in sinks")
	rows := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) >= 3 && strings.HasPrefix(cells[0], "| `") {
			rows[strings.Trim(cells[0], "| `")] = cells[1]
		}
	}
	name := regexp.MustCompile("`([a-z0-9_]+)") // `auth: oauth2` names auth
	for _, plugin := range []string{"lrs", "archive", "mock"} {
		row, ok := rows[plugin]
		if !ok {
			t.Errorf("README.md's built-in sinks have no row for %s", plugin)
			continue
		}
		documented := map[string]bool{}
		for _, m := range name.FindAllStringSubmatch(row, -1) {
			documented[m[1]] = true
		}
		var missing []string
		for _, key := range docSet(docSinkSettings(t, plugin)) {
			if !documented[key] {
				missing = append(missing, key)
			}
		}
		if len(missing) > 0 {
			t.Errorf("README.md's row for the %s sink does not name the settings %v", plugin, missing)
		}
	}
}

// docParseDir parses the Go files of dir, tests left out.
func docParseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []*ast.File
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", e.Name(), err)
		}
		out = append(out, f)
	}
	return out
}

// TestReadmeDirectoryTableListsEveryPackage: every directory of the module
// with Go files is in the README's directory table, and every directory
// there exists.
func TestReadmeDirectoryTableListsEveryPackage(t *testing.T) {
	text := docSection(t, docRead(t, "README.md"), "README.md", "## Architecture")
	var listed []string
	for _, name := range docTableColumn(text) {
		if name != "directory" {
			listed = append(listed, name)
		}
	}
	var packages []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == ".." || !d.IsDir() {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, "../"))
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
			return filepath.SkipDir // another module (tools, the codec comparison)
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
				packages = append(packages, rel)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(packages) < 10 {
		t.Fatalf("found only %d packages in the module: %v", len(packages), packages)
	}
	packages = append(packages, "sdk/proto") // the wire contract, without Go code
	if diff := cmp.Diff(docSet(packages), docSet(listed)); diff != "" {
		t.Errorf("README.md's directory table and the module's packages differ (-module +README):\n%s", diff)
	}
}
