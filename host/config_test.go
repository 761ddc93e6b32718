package host

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfigRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		yaml    string
		environ []string
		want    []ConfigProblem
	}{
		{
			name: "typo in the file",
			yaml: "queue:\n  sycn: none\n",
			want: []ConfigProblem{{"queue.sycn", "unknown key in (yaml); did you mean queue.sync?"}},
		},
		{
			name: "missing underscore",
			yaml: "delivery:\n  batchsize: 5\n",
			want: []ConfigProblem{{"delivery.batchsize", "unknown key in (yaml); did you mean delivery.batch_size?"}},
		},
		{
			name: "a key this version does not have",
			yaml: "queue:\n  compression: zstd\n",
			want: []ConfigProblem{{"queue.compression", "unknown key in (yaml); known keys here: backend, group_window, max_open_files, max_org_bytes, max_queue_bytes, max_total_bytes, nats, sync"}},
		},
		{
			name:    "typo in an environment variable",
			environ: []string{"LRSBRIDGE_QUEUE__SYCN=none"},
			want:    []ConfigProblem{{"queue.sycn", "unknown key set by LRSBRIDGE_QUEUE__SYCN; did you mean queue.sync?"}},
		},
		{
			name:    "the plugin protocol's variables are not configuration",
			environ: []string{"LRSBRIDGE_SINK_LOG_LEVEL=debug", "LRSBRIDGE_SINK_REATTACH={}", "LRSBRIDGE_QUEU__SYNC=none"},
			want:    []ConfigProblem{{"queu", "unknown key set by LRSBRIDGE_QUEU__SYNC; did you mean queue?"}},
		},
		{
			name: "typo in an organization's settings",
			yaml: "orgs:\n  acme:\n    base_iri: https://acme.example\n    send_name: true\n",
			want: []ConfigProblem{{"orgs.acme.send_name", "unknown key in (yaml); did you mean orgs.acme.send_names?"}},
		},
		{
			name: "typo in an integration",
			yaml: "orgs:\n  acme:\n    base_iri: https://acme.example\n    sinks:\n      - plugin: mock\n        lable: Mock\n",
			want: []ConfigProblem{{"orgs.acme.sinks[0].lable", "unknown key in (yaml); did you mean orgs.acme.sinks[0].label?"}},
		},
		{
			name: "enum value",
			yaml: "plugins:\n  process: {mock: isolated}\n",
			want: []ConfigProblem{{"plugins.process.mock", `is "isolated", want "shared" or "per_org"`}},
		},
		{
			name: "plugin priority above the host's",
			yaml: "plugins:\n  nice: -5\n",
			want: []ConfigProblem{{"plugins.nice", "nice is -5, want 0 (the host's priority) to 19 (the lowest)"}},
		},
		{
			name:    "plugin priority past the lowest",
			environ: []string{"LRSBRIDGE_PLUGINS__NICE=25"},
			want:    []ConfigProblem{{"plugins.nice", "nice is 25, want 0 (the host's priority) to 19 (the lowest)"}},
		},
		{
			name: "telemetry attribute mode",
			yaml: "telemetry:\n  attributes: {mode: everything}\n",
			want: []ConfigProblem{{"telemetry.attributes.mode", `is "everything", want "off", "limited" or "all"`}},
		},
		{
			name: "negative telemetry limit",
			yaml: "telemetry:\n  attributes: {limit: -1}\n",
			want: []ConfigProblem{{"telemetry.attributes.limit", "is -1, want 0 (the default, 100) or more"}},
		},
		{
			name: "typo in telemetry",
			yaml: "telemetry:\n  attributes: {allowed: [acme]}\n",
			want: []ConfigProblem{{"telemetry.attributes.allowed", "unknown key in (yaml); did you mean telemetry.attributes.allow?"}},
		},
		{
			name: "top level",
			yaml: "datadir: /srv\n",
			want: []ConfigProblem{{"datadir", "unknown key in (yaml); did you mean data_dir?"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			environ := tc.environ
			if environ == nil {
				environ = []string{}
			}
			_, err := LoadConfigYAML([]byte(tc.yaml), environ)
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

func TestLoadConfigKeepsOpaquePluginConfig(t *testing.T) {
	t.Parallel()
	yaml := `
plugins:
  sha256: {mock: "AB0000000000000000000000000000000000000000000000000000000000000000"}
orgs:
  acme:
    base_iri: https://acme.example
    sinks:
      - plugin: mock
        config: {anything: {nested: [1, 2]}, record_file: /tmp/x}
`
	_, err := LoadConfigYAML([]byte(yaml), []string{})
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "plugins.sha256.mock" {
		t.Fatalf("LoadConfigYAML = %v, want only the 66-digit checksum refused", err)
	}
	yaml = `
plugins:
  sha256: {mock: "ABCDEF0000000000000000000000000000000000000000000000000000000000"}
orgs:
  acme:
    base_iri: https://acme.example
    sinks:
      - plugin: mock
        config: {anything: {nested: [1, 2]}}
`
	cfg, err := LoadConfigYAML([]byte(yaml), []string{})
	if err != nil {
		t.Fatalf("LoadConfigYAML: %v", err)
	}
	if got := cfg.Orgs["acme"].Sinks[0].Config["anything"]; !reflect.DeepEqual(got, map[string]any{"nested": []any{1, 2}}) {
		t.Errorf("opaque config = %#v", got)
	}
	if opts := cfg.Plugins.supervisorOptions(nil, nil, nil); len(opts.SHA256["mock"]) != 32 || opts.SHA256["mock"][0] != 0xab {
		t.Errorf("checksum decoded as %x, want 32 bytes starting ab", opts.SHA256["mock"])
	}
}

// TestLoadConfigDefaultsHaveOneSource: what the file and the environment do
// not set is DefaultConfig's.
func TestLoadConfigDefaultsHaveOneSource(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfigYAML([]byte("delivery:\n  linger: 1s\n"), []string{})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Delivery.Linger = time.Second
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("loaded configuration (-want +got):\n%s", diff)
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"sync", "sync", 0}, {"sycn", "sync", 1}, {"batchsize", "batch_size", 1},
		{"", "abc", 3}, {"backend", "sync", 6}, {"lable", "label", 1},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestLoadConfigMaxOpenFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		yaml     string
		environ  []string
		want     int
		problems []ConfigProblem
	}{
		{name: "default", want: 256},
		{name: "file", yaml: "queue:\n  max_open_files: 1024\n", want: 1024},
		{name: "environment", environ: []string{"LRSBRIDGE_QUEUE__MAX_OPEN_FILES=64"}, want: 64},
		{name: "zero", yaml: "queue:\n  max_open_files: 0\n",
			problems: []ConfigProblem{{"queue.max_open_files", "is 0, want at least 1 (default 256)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			environ := tc.environ
			if environ == nil {
				environ = []string{}
			}
			cfg, err := LoadConfigYAML([]byte(tc.yaml), environ)
			var ce *ConfigError
			if errors.As(err, &ce) {
				if diff := cmp.Diff(tc.problems, ce.Problems); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil || tc.problems != nil {
				t.Fatalf("LoadConfigYAML = %v, want problems %v", err, tc.problems)
			}
			if cfg.Queue.MaxOpenFiles != tc.want {
				t.Errorf("queue.max_open_files = %d, want %d", cfg.Queue.MaxOpenFiles, tc.want)
			}
		})
	}
}

// TestLoadConfigTelemetry reads the telemetry attributes from the file
// and the environment, over the defaults.
func TestLoadConfigTelemetry(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfigYAML([]byte("telemetry:\n  attributes:\n    allow: [acme, globex]\n"),
		[]string{"LRSBRIDGE_TELEMETRY__ATTRIBUTES__MODE=all"})
	if err != nil {
		t.Fatalf("LoadConfigYAML: %v", err)
	}
	want := TelemetryConfig{Attributes: TelemetryAttributes{Mode: AttributesAll, Limit: 100, Allow: []string{"acme", "globex"}}}
	if diff := cmp.Diff(want, cfg.Telemetry); diff != "" {
		t.Errorf("telemetry (-want +got):\n%s", diff)
	}
}
