package lrs

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// TestParseConfig_compatible is a table of configurations the LRS sink
// accepted before it decoded with sdk.DecodeConfig, with the Config they
// gave: they must still be accepted, with the same meaning.
func TestParseConfig_compatible(t *testing.T) {
	t.Parallel()
	ep := "https://lrs.example.com/xapi/"
	base := func(kv ...any) map[string]any {
		m := map[string]any{KeyXAPIVersion: "1.0.3", KeyEndpoint: ep, KeyKey: "k", KeySecret: "s3cret"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	want := func(f func(*Config)) Config {
		c := Config{Version: xapi.V103, Endpoint: ep, Key: "k"}
		if f != nil {
			f(&c)
		}
		return c
	}
	tests := []struct {
		name string
		in   map[string]any
		want Config
	}{
		{"minimal", base(), want(nil)},
		{"label", base(KeyLabel, "  Acme LRS "), want(func(c *Config) { c.Label = "Acme LRS" })},
		{"null values", base(KeyLabel, nil, KeyTimeout, nil, KeyMaxBatch, nil, KeyCAPEM, nil), want(nil)},
		{"empty strings", base(KeyLabel, "", KeyCAFile, "", KeyCAPEM, ""), want(nil)},
		{"version 2.0.0", base(KeyXAPIVersion, "2.0.0"), want(func(c *Config) { c.Version = xapi.V200 })},
		{"version 2.0", base(KeyXAPIVersion, " 2.0 "), want(func(c *Config) { c.Version = xapi.V200 })},
		{"endpoint with statements", base(KeyEndpoint, "https://lrs.example.com/xapi/statements"), want(nil)},
		{"endpoint without slash", base(KeyEndpoint, " https://lrs.example.com/xapi "), want(nil)},
		{"key with spaces", base(KeyKey, "  k "), want(nil)},
		{"timeout text", base(KeyTimeout, "45s"), want(func(c *Config) { c.Timeout = 45 * time.Second })},
		{"timeout text minutes", base(KeyTimeout, "2m"), want(func(c *Config) { c.Timeout = 2 * time.Minute })},
		{"timeout seconds", base(KeyTimeout, float64(10)), want(func(c *Config) { c.Timeout = 10 * time.Second })},
		{"timeout int", base(KeyTimeout, 20), want(func(c *Config) { c.Timeout = 20 * time.Second })},
		{"max batch number", base(KeyMaxBatch, float64(250)), want(func(c *Config) { c.MaxBatch = 250 })},
		{"max batch int", base(KeyMaxBatch, 5), want(func(c *Config) { c.MaxBatch = 5 })},
		{"max batch text", base(KeyMaxBatch, " 300 "), want(func(c *Config) { c.MaxBatch = 300 })},
		{"insecure true", base(KeyInsecureSkipVerify, true), want(func(c *Config) { c.InsecureSkipVerify = true })},
		{"insecure false", base(KeyInsecureSkipVerify, false), want(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(tt.in)
			if err != nil {
				t.Fatalf("ParseConfig = %v; want the configuration accepted", err)
			}
			if got.Secret.Reveal() != "s3cret" {
				t.Errorf("secret not kept")
			}
			got.Secret = Secret{}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b Secret) bool { return a.Reveal() == b.Reveal() })); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}
