package host

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/knadh/koanf/v2"
)

// listKeysOf returns every key of type t under prefix that holds a list of
// plain values, derived from the types so that a new list key is covered;
// a map level is named "x".
func listKeysOf(t reflect.Type, prefix string) []string {
	if _, ok := reflect.New(t).Interface().(encoding.TextUnmarshaler); ok {
		return nil
	}
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		var out []string
		for name, ft := range structKeys(t) {
			out = append(out, listKeysOf(ft, join(prefix, name))...)
		}
		return out
	case t.Kind() == reflect.Map && t.Elem().Kind() != reflect.Interface:
		return listKeysOf(t.Elem(), prefix+".x")
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Struct:
		return []string{prefix}
	}
	return nil
}

// envName returns the LRSBRIDGE_ variable that sets key.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// valueAt returns the value of c at key, walking struct fields by their
// koanf names and maps by key.
func valueAt(t *testing.T, c Config, key string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(c)
	for _, part := range strings.Split(key, ".") {
		switch v.Kind() {
		case reflect.Struct:
			v = fieldByKey(v, part)
		case reflect.Map:
			v = v.MapIndex(reflect.ValueOf(part))
		}
		if !v.IsValid() {
			t.Fatalf("no value at %s (%s)", key, part)
		}
	}
	return v
}

// fieldByKey returns the field of struct v whose koanf name is name,
// looking into squashed embedded structs.
func fieldByKey(v reflect.Value, name string) reflect.Value {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if opts == "squash" {
			if sub := fieldByKey(v.Field(i), name); sub.IsValid() {
				return sub
			}
		} else if tag == name && f.IsExported() {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// TestEnvSetsListKeys sets every list key of Config from the environment:
// the value is split on commas with spaces trimmed.
func TestEnvSetsListKeys(t *testing.T) {
	t.Parallel()
	keys := listKeysOf(reflect.TypeFor[Config](), "")
	for _, known := range []string{"plugins.allow_runtime", "egress.allow_cidrs", "plugins.config_only_settings.x"} {
		if !strings.Contains(" "+strings.Join(keys, " ")+" ", " "+known+" ") {
			t.Fatalf("list keys derived from Config %v miss %s", keys, known)
		}
	}
	for _, key := range keys {
		for _, tc := range []struct {
			name, value string
			want        []string
		}{
			{"two elements", "a,b", []string{"a", "b"}},
			{"spaces trimmed", "  a ,  b c ", []string{"a", "b c"}},
			{"one element", "a", []string{"a"}},
			{"empty value", "", []string{}},
		} {
			t.Run(key+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				if !isListKey(key) {
					t.Fatalf("isListKey(%q) = false", key)
				}
				ek, problems, err := envLayer([]string{envName(key) + "=" + tc.value})
				if err != nil || len(problems) > 0 {
					t.Fatalf("envLayer: %v %v", problems, err)
				}
				c := DefaultConfig()
				if err := ek.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
					t.Fatal(err)
				}
				v := valueAt(t, c, key)
				got := []string{}
				for i := range v.Len() {
					got = append(got, fmt.Sprint(v.Index(i).Interface()))
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s=%q (-want +got):\n%s", envName(key), tc.value, diff)
				}
			})
		}
	}
}

// TestIsListKey checks keys that are not lists of values.
func TestIsListKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"queue.sync", "plugins", "plugins.config_only_settings", "orgs.acme.sinks",
		"orgs.acme.sinks.config", "plugins.sha256.lrs", "delivery.timeout", "no.such.key", ""} {
		if isListKey(key) {
			t.Errorf("isListKey(%q) = true, want false", key)
		}
	}
}

// TestLoadConfigListsFromEnv loads lists from the environment through
// LoadConfig: valid ones are validated as if they came from the file,
// malformed ones are refused naming the variable.
func TestLoadConfigListsFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfigYAML(nil, []string{
		"LRSBRIDGE_PLUGINS__ALLOW_RUNTIME=lrs, archive",
		"LRSBRIDGE_EGRESS__ALLOW_CIDRS=127.0.0.0/8,::1/128",
		"LRSBRIDGE_PLUGINS__CONFIG_ONLY_SETTINGS__LRS=ca_file",
		`LRSBRIDGE_PLUGINS__ENV=NO_PROXY=localhost\,.corp.example, TZ=UTC`,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := [][]string{cfg.Plugins.AllowRuntime, cfg.Egress.AllowCIDRs, cfg.Plugins.ConfigOnlySettings["lrs"], cfg.Plugins.Env}
	want := [][]string{{"lrs", "archive"}, {"127.0.0.0/8", "::1/128"}, {"ca_file"}, {"NO_PROXY=localhost,.corp.example", "TZ=UTC"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lists (-want +got):\n%s", diff)
	}

	const advice = "; separate the elements with single commas, with none at either end (an empty value sets an empty list; write a comma inside an element as \\,)"
	for _, tc := range []struct {
		name    string
		environ []string
		want    []ConfigProblem
	}{
		{"two commas", []string{"LRSBRIDGE_PLUGINS__ALLOW_RUNTIME=lrs,,archive"},
			[]ConfigProblem{{"plugins.allow_runtime", "set by LRSBRIDGE_PLUGINS__ALLOW_RUNTIME: element 2 of 3 of the comma-separated list is empty" + advice}}},
		{"a comma at the end", []string{"LRSBRIDGE_EGRESS__ALLOW_CIDRS=127.0.0.0/8, "},
			[]ConfigProblem{{"egress.allow_cidrs", "set by LRSBRIDGE_EGRESS__ALLOW_CIDRS: element 2 of 2 of the comma-separated list is empty" + advice}}},
		{"only a comma, with an unknown key", []string{"LRSBRIDGE_TELEMETRY__ATTRIBUTES__ALLOW=,", "LRSBRIDGE_QUEUE__SYCN=none"},
			[]ConfigProblem{
				{"queue.sycn", "unknown key set by LRSBRIDGE_QUEUE__SYCN; did you mean queue.sync?"},
				{"telemetry.attributes.allow", "set by LRSBRIDGE_TELEMETRY__ATTRIBUTES__ALLOW: element 1 of 2 of the comma-separated list is empty" + advice},
			}},
		{"a list below a map level", []string{"LRSBRIDGE_PLUGINS__CONFIG_ONLY_SETTINGS__LRS=ca_file, key_file,"},
			[]ConfigProblem{{"plugins.config_only_settings.lrs", "set by LRSBRIDGE_PLUGINS__CONFIG_ONLY_SETTINGS__LRS: element 3 of 3 of the comma-separated list is empty" + advice}}},
		{"an invalid element is refused by validation", []string{"LRSBRIDGE_EGRESS__ALLOW_CIDRS=127.0.0.0/8, 10.0.0.0/33"},
			[]ConfigProblem{{"egress.allow_cidrs[1]", `"10.0.0.0/33" is not a CIDR prefix`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfigYAML(nil, tc.environ)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfigYAML = %v, want a *ConfigError", err)
			}
			if diff := cmp.Diff(tc.want, ce.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// joinList is the inverse of splitList for elements without spaces at
// their ends: it escapes backslashes and commas and joins with commas.
func joinList(list []string) string {
	esc := strings.NewReplacer(`\`, `\\`, `,`, `\,`)
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = esc.Replace(v)
	}
	return strings.Join(parts, ",")
}

func TestSplitListEscapes(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string
	}{
		{`NO_PROXY=a\,b, HTTP_PROXY=http://proxy:3128`, []string{"NO_PROXY=a,b", "HTTP_PROXY=http://proxy:3128"}},
		{`a\\,b`, []string{`a\`, "b"}},
		{`c:\dir,d`, []string{`c:\dir`, "d"}},
		{`\,`, []string{","}},
		{`x\`, []string{`x\`}},
	} {
		got, err := splitList(tc.value)
		if err != nil {
			t.Errorf("splitList(%q): %v", tc.value, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitList(%q) (-want +got):\n%s", tc.value, diff)
		}
	}
}

// FuzzSplitList checks that a split list has no empty or untrimmed
// element, that a value without backslashes has one element per
// comma-separated part and none holding a comma, and that joining the list
// again (escaping commas and backslashes) splits to the same list.
func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"", " ", "lrs,archive", " a , b ", "a,,b", ",", "a,", "\t\n", "x\u00a0,y", `a\,b`, `a\\,b`, `c:\d`, `\`, `\\\,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		list, err := splitList(value)
		if err != nil {
			return
		}
		if strings.TrimSpace(value) == "" {
			if len(list) != 0 {
				t.Fatalf("splitList(%q) = %q, want an empty list", value, list)
			}
			return
		}
		for _, v := range list {
			if v == "" || v != strings.TrimSpace(v) {
				t.Fatalf("splitList(%q) has element %q", value, v)
			}
		}
		if !strings.Contains(value, `\`) {
			if len(list) != strings.Count(value, ",")+1 {
				t.Fatalf("splitList(%q) = %q: %d elements for %d commas", value, list, len(list), strings.Count(value, ","))
			}
			for _, v := range list {
				if strings.Contains(v, ",") {
					t.Fatalf("splitList(%q) has element %q, with a comma but no backslash in the value", value, v)
				}
			}
		}
		again, err := splitList(joinList(list))
		if err != nil || !reflect.DeepEqual(again, list) {
			t.Fatalf("splitList of the joined %q = %q, %v", list, again, err)
		}
	})
}

// TestReadmeNamesEveryListKey checks that the README's configuration
// reference names every list key that a variable splits on commas (a map
// level written as <name>).
func TestReadmeNamesEveryListKey(t *testing.T) {
	ref := docSection(t, docRead(t, "README.md"), "README.md", "## Configuration reference")
	for _, key := range listKeysOf(reflect.TypeFor[Config](), "") {
		parts := strings.Split(key, ".")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
			if p == "x" {
				parts[i] = "<[a-z_]+>"
			}
		}
		if !regexp.MustCompile("`" + strings.Join(parts, `\.`) + "`").MatchString(ref) {
			t.Errorf("the README's configuration reference does not name the list key %s among those set with commas", key)
		}
	}
}
