package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

func TestGeneratorIsDeterministicAndValid(t *testing.T) {
	var a, b bytes.Buffer
	if err := writeGenerated(&a, 200, 42); err != nil {
		t.Fatal(err)
	}
	if err := writeGenerated(&b, 200, 42); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.String(), b.String()); diff != "" {
		t.Errorf("two runs with one seed differ (-first +second):\n%s", diff)
	}
	ids := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSpace(a.String()), "\n") {
		var ev host.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if ids[ev.ID] {
			t.Errorf("event id %s is used twice", ev.ID)
		}
		ids[ev.ID] = true
		if ev.Org == "" || ev.Kind == "" || ev.Time == "" || len(ev.Payload) == 0 {
			t.Errorf("line %d lacks an envelope field: %s", i+1, line)
		}
	}
}

func TestExpandDemo(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		vars    map[string]string
		want    string
		wantErr bool
	}{
		{name: "values are escaped for single quotes", text: "dir: '${D}'", vars: map[string]string{"D": `/tmp/it's`}, want: "dir: '/tmp/it''s'"},
		{name: "unknown placeholder", text: "a: '${A}' b: '${B}'", vars: map[string]string{"A": "x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expandDemo(tt.text, tt.vars)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("expandDemo = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDemoConfigLoads checks that the embedded demo.yaml expands into a
// valid configuration with its two organizations.
func TestDemoConfigLoads(t *testing.T) {
	d, cfg, err := startDemo(t.TempDir(), t.TempDir(), []string{"LRSBRIDGE_DELIVERY__BATCH_SIZE=7"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	type org struct{ Plugin, Dir, Endpoint string }
	got := map[string]org{}
	for id, o := range cfg.Orgs {
		for _, s := range o.Sinks {
			got[id] = org{Plugin: s.Plugin, Dir: fmt.Sprint(s.Config["dir"]), Endpoint: fmt.Sprint(s.Config["endpoint"])}
		}
	}
	want := map[string]org{
		"acme":   {Plugin: "lrs", Dir: "<nil>", Endpoint: d.LRSEndpoint},
		"beacon": {Plugin: "archive", Dir: filepath.Join(d.DataDir, "archive"), Endpoint: "<nil>"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("demo organizations mismatch (-want +got):\n%s", diff)
	}
	if cfg.Delivery.BatchSize != 7 {
		t.Errorf("batch size = %d, want 7 from the environment", cfg.Delivery.BatchSize)
	}
	if !cfg.Egress.AllowHTTP || len(cfg.Egress.AllowCIDRs) != 1 || cfg.Secrets.Key == "" {
		t.Errorf("egress %+v / secrets key set %v, want loopback http allowed and a key", cfg.Egress, cfg.Secrets.Key != "")
	}
	fi, err := os.Stat(d.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("expanded configuration file mode = %v, want 0600 (it holds the demo LRS secret)", fi.Mode().Perm())
	}
}

// TestConfigFileFromStdin runs -config with events on stdin: the path an
// operator uses with their own configuration.
func TestConfigFileFromStdin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	endpoint := lrs.Endpoint
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "lrsbridge.yaml")
	yaml := fmt.Sprintf(`data_dir: '%s'
plugins: {dir: '%s'}
egress: {allow_cidrs: ['127.0.0.0/8'], allow_http: true}
queue: {sync: none}
orgs:
  acme:
    base_iri: https://acme.learningflow.example
    sinks:
      - {id: lrs, plugin: lrs, config: {xapi_version: '1.0.3', endpoint: '%s', key: '%s'}}
`, filepath.Join(dir, "data"), plugins(t), endpoint, hosttest.LRSKey)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	a := &app{
		stdin:  strings.NewReader(quizEvent("acme", "s1") + "\n" + quizEvent("acme", "s2") + "\n"),
		stdout: &stdout, stderr: &stderr,
		environ: []string{"LRSBRIDGE_DELIVERY__LINGER=5ms"},
	}
	code := a.run(ctx, []string{"-config", cfgFile, "-events", "-", "-drain", "-progress", "0"})
	var s summary
	if err := json.Unmarshal([]byte(stdout.String()), &s); err != nil {
		t.Fatalf("stdout is not a summary (%v): %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	// The configuration has no secret: the integration pauses (rejected
	// credentials or configuration), the statements stay queued and the
	// run fails.
	if code != 1 || s.Queued != int(s.Statements) || s.Delivered != 0 || !strings.HasPrefix(s.Integrations[0].State, "paused_") {
		t.Errorf("exit %d with summary %+v, want 1 with every statement queued and the integration paused", code, s)
	}
	if lrs.Len() != 0 {
		t.Errorf("the LRS stored %d statements without credentials", lrs.Len())
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "demo", args: nil},
		{name: "drain a file", args: []string{"-events", "x.ndjson", "-drain"}},
		{name: "events and panel", args: []string{"-events", "-", "-listen", "127.0.0.1:0"}},
		{name: "generate", args: []string{"-generate", "10", "-seed", "3"}},
		{name: "drain without events", args: []string{"-drain"}, wantErr: true},
		{name: "drain with listen", args: []string{"-events", "x", "-drain", "-listen", ":0"}, wantErr: true},
		{name: "generate with events", args: []string{"-generate", "3", "-events", "x"}, wantErr: true},
		{name: "negative rate", args: []string{"-rate", "-1"}, wantErr: true},
		{name: "no workers", args: []string{"-workers", "0"}, wantErr: true},
		{name: "stray argument", args: []string{"run"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Errorf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
		})
	}
}
