package host

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRunTimePolicy checks issue 11, item 10 (host side): organization
// admins may choose only the plugins of plugins.allow_runtime and may not
// enter config-only settings (local file paths, by default) at run time;
// integrations of the configuration file keep working and can be saved
// again unchanged.
func TestRunTimePolicy(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	def := DefaultConfig().Plugins
	cfg.Plugins.AllowRuntime, cfg.Plugins.ConfigOnlySettings = def.AllowRuntime, def.ConfigOnlySettings
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	h := newHost(t, cfg)
	ctx := context.Background()
	if err := h.Record(ctx, "acme", statement("acme", 1)); err != nil {
		t.Fatalf("a configured integration of a plugin not allowed at run time: %v", err)
	}
	lrsCfg := func(extra map[string]any) map[string]any {
		c := map[string]any{"xapi_version": "1.0.3", "endpoint": "http://127.0.0.1:1/xapi/", "key": "k", "secret": "s"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name      string
		in        Integration
		wantField string // "" when the policy lets it through
	}{
		{"plugin not allowed", Integration{Label: "Mine", Plugin: "mock", Config: map[string]any{}}, "plugin"},
		{"path setting", Integration{Label: "LRS", Plugin: "lrs", Config: lrsCfg(map[string]any{"ca_file": "/etc/ssl/private/host.pem"})}, "ca_file"},
		{"nested path setting", Integration{Label: "LRS", Plugin: "lrs", Config: lrsCfg(map[string]any{
			"tls": map[string]any{"client_cert_file": "/etc/host.crt"}})}, "tls.client_cert_file"},
		{"dir setting", Integration{Label: "LRS", Plugin: "lrs", Config: lrsCfg(map[string]any{"spool_dir": "/tmp"})}, "spool_dir"},
		{"allowed plugin, no paths", Integration{Label: "LRS", Plugin: "lrs", Config: lrsCfg(nil)}, ""},
		{"configured integration unchanged", Integration{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{"record_file": rec}}, ""},
		{"configured integration, path changed", Integration{ID: "mock", Label: "Mock", Plugin: "mock",
			Config: map[string]any{"record_file": "/etc/passwd"}}, "record_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, testErr := h.TestIntegration(ctx, "acme", tc.in)
			_, saveErr := h.SaveIntegration(ctx, "acme", tc.in, SaveOptions{Force: true})
			for what, err := range map[string]error{"TestIntegration": testErr, "SaveIntegration": saveErr} {
				var pe *PolicyError
				if tc.wantField == "" {
					if errors.Is(err, ErrNotAllowed) {
						t.Errorf("%s = %v, want the policy to let it through", what, err)
					}
					continue
				}
				if !errors.Is(err, ErrNotAllowed) || !errors.As(err, &pe) {
					t.Fatalf("%s = %v, want a *PolicyError", what, err)
				}
				if diff := cmp.Diff(PolicyError{Org: "acme", Field: tc.wantField, Message: pe.Message}, *pe); diff != "" {
					t.Errorf("%s refused (-want +got):\n%s", what, diff)
				}
				if pe.Message == "" {
					t.Errorf("%s: no message", what)
				}
			}
		})
	}
	// Nothing refused was saved.
	list, err := h.Integrations("acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		if in.Plugin == "mock" && in.Config["record_file"] != rec {
			t.Errorf("a refused setting was saved: %+v", in)
		}
	}
	if _, err := h.TestIntegration(ctx, "acme", Integration{Label: "x", Plugin: "nosuchplugin"}); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("TestIntegration of a plugin that is not installed = %v, want ErrUnknownPlugin", err)
	}
}

func TestPolicyConfigKeys(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfigYAML([]byte(`data_dir: /srv/lrsbridge
plugins:
  allow_runtime: [lrs, archive]
  config_only_settings:
    "*": ["*_file"]
    archive: [dir, compress]
`), []string{})
	if err != nil {
		t.Fatalf("LoadConfigYAML: %v", err)
	}
	want := map[string][]string{"*": {"*_file"}, "archive": {"dir", "compress"}}
	if diff := cmp.Diff(want, cfg.Plugins.ConfigOnlySettings); diff != "" {
		t.Errorf("config_only_settings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"lrs", "archive"}, cfg.Plugins.AllowRuntime); diff != "" {
		t.Errorf("allow_runtime (-want +got):\n%s", diff)
	}
	if _, err := LoadConfigYAML([]byte("data_dir: /x\nplugins:\n  allow_runtime: [\"../evil\"]\n"), []string{}); err == nil {
		t.Error("an allow_runtime entry that is not a plugin name was accepted")
	}
}
