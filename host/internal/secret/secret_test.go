package secret

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMaskAndValues(t *testing.T) {
	t.Parallel()
	cfg := map[string]any{
		"endpoint": "https://lrs.example", "secret": "s3cr3t-value", "empty_password": "",
		"tls": map[string]any{"client_key": "-----BEGIN KEY-----", "ca_file": "/etc/ca.pem"},
	}
	want := map[string]any{
		"endpoint": "https://lrs.example", "secret": Masked, "empty_password": "",
		"tls": map[string]any{"client_key": Masked, "ca_file": "/etc/ca.pem"},
	}
	if diff := cmp.Diff(want, Mask(cfg)); diff != "" {
		t.Errorf("Mask (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"-----BEGIN KEY-----", "s3cr3t-value"}, Values(cfg)); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
	if got := Redact("401 for s3cr3t-value", Values(cfg)); got != "401 for "+Masked {
		t.Errorf("Redact = %q", got)
	}
}

func TestMergeKeepsSecretsOnlyForTheSameDestination(t *testing.T) {
	t.Parallel()
	prev := map[string]any{"endpoint": "https://a.example", "key": "k", "secret": "old-secret"}
	for _, tc := range []struct {
		name        string
		next        map[string]any
		want        map[string]any
		wantMissing []string
		wantOK      bool
	}{
		{
			name:   "masked secret, same destination",
			next:   map[string]any{"endpoint": "https://a.example", "key": "k2", "secret": Masked},
			want:   map[string]any{"endpoint": "https://a.example", "key": "k2", "secret": "old-secret"},
			wantOK: true,
		},
		{
			name:        "masked secret, new destination",
			next:        map[string]any{"endpoint": "https://evil.example", "key": "k", "secret": Masked},
			want:        map[string]any{"endpoint": "https://evil.example", "key": "k", "secret": Masked},
			wantMissing: []string{"secret"},
		},
		{
			name:   "new secret, new destination",
			next:   map[string]any{"endpoint": "https://b.example", "key": "k", "secret": "new"},
			want:   map[string]any{"endpoint": "https://b.example", "key": "k", "secret": "new"},
			wantOK: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, missing, ok := Merge(tc.next, prev)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			if ok != tc.wantOK || !cmp.Equal(missing, tc.wantMissing) {
				t.Errorf("ok, missing = %v, %v; want %v, %v", ok, missing, tc.wantOK, tc.wantMissing)
			}
		})
	}
}

func TestBoxBindsSecretsToTheirPlace(t *testing.T) {
	t.Parallel()
	b, err := NewBox("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", false)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal("acme", "lrs", map[string]any{"secret": "value", "endpoint": "https://x"})
	if err != nil {
		t.Fatal(err)
	}
	if sealed["secret"] == "value" || sealed["endpoint"] != "https://x" {
		t.Fatalf("sealed = %v", sealed)
	}
	if got, err := b.Open("acme", "lrs", sealed); err != nil || got["secret"] != "value" {
		t.Errorf("Open = %v, %v", got, err)
	}
	if _, err := b.Open("globex", "lrs", sealed); err == nil {
		t.Error("a secret sealed for acme opened for globex")
	}
	if _, err := NewBox("c2hvcnQ=", false); err == nil {
		t.Error("NewBox accepted a short key")
	}
}
