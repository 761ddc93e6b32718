package secret

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
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

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// nestedConfig has secrets at every depth Mask looks at.
func nestedConfig() map[string]any {
	return map[string]any{
		"endpoint": "https://lrs.example",
		"auth":     map[string]any{"user": "u", "password": "nested-password"},
		"headers": []any{
			map[string]any{"name": "X-Org", "value": "acme"},
			map[string]any{"name": "Authorization", "token": "list-token-value"},
		},
		"private":      map[string]any{"pem": "whole-map-secret", "bits": 2048.0},
		"api_secret":   []any{"first-of-list", "second-of-list"},
		"empty_secret": "",
	}
}

func TestMaskLooksInsideLists(t *testing.T) {
	t.Parallel()
	want := map[string]any{
		"endpoint": "https://lrs.example",
		"auth":     map[string]any{"user": "u", "password": Masked},
		"headers": []any{
			map[string]any{"name": "X-Org", "value": "acme"},
			map[string]any{"name": "Authorization", "token": Masked},
		},
		"private":      Masked,
		"api_secret":   Masked,
		"empty_secret": "",
	}
	if diff := cmp.Diff(want, Mask(nestedConfig())); diff != "" {
		t.Errorf("Mask (-want +got):\n%s", diff)
	}
	wantValues := []string{"list-token-value", "whole-map-secret", "nested-password", "second-of-list", "first-of-list"}
	if diff := cmp.Diff(wantValues, Values(nestedConfig())); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
}

func TestSealSealsEveryMaskedValue(t *testing.T) {
	t.Parallel()
	b, err := NewBox(testKey, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := nestedConfig()
	if !b.InClear(cfg) {
		t.Error("InClear = false for a configuration with secrets in clear")
	}
	sealed, err := b.Seal("acme", "lrs", cfg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(sealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Values(cfg) {
		if strings.Contains(string(data), s) {
			t.Errorf("sealed configuration holds %q in clear: %s", s, data)
		}
	}
	if b.InClear(sealed) {
		t.Error("InClear = true after Seal")
	}
	// The file form: numbers come back from JSON as float64.
	var stored map[string]any
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	back, err := b.Open("acme", "lrs", stored)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cfg, back); diff != "" {
		t.Errorf("Open(Seal(cfg)) (-want +got):\n%s", diff)
	}
	// A value sealed for one place does not open in another.
	moved := map[string]any{"auth": map[string]any{"secret": stored["auth"].(map[string]any)["password"]}}
	if _, err := b.Open("acme", "lrs", moved); err == nil {
		t.Error("a nested secret moved to another key was opened")
	}
	noKey, _ := NewBox("", false)
	if _, err := noKey.Seal("acme", "lrs", map[string]any{"headers": []any{map[string]any{"token": "x"}}}); !errors.Is(err, ErrPlaintext) {
		t.Errorf("Seal of a nested secret without a key = %v, want ErrPlaintext", err)
	}
}

func TestRedactFindsDerivedForms(t *testing.T) {
	t.Parallel()
	const key, sec = "lrs-key", "S3cr3t/Value+1"
	secrets := Values(map[string]any{"key": key, "secret": sec})
	basic := base64.StdEncoding.EncodeToString([]byte(key + ":" + sec))
	for _, tc := range []struct {
		name, msg string
	}{
		{"plain", "denied for " + sec},
		{"upper case", "denied for " + strings.ToUpper(sec)},
		{"lower case", "denied for " + strings.ToLower(sec)},
		{"basic header", `{"echo":{"Authorization":"Basic ` + basic + `"}}`},
		{"basic header, raw encoding", "Authorization: Basic " + strings.TrimRight(basic, "=")},
		{"base64 of the secret", "x=" + base64.StdEncoding.EncodeToString([]byte(sec))},
		{"url base64 of the secret", "x=" + base64.RawURLEncoding.EncodeToString([]byte(sec))},
		{"query escaped", "GET /?secret=" + url.QueryEscape(sec)},
		{"path escaped", "GET /" + url.PathEscape(sec)},
		{"query escaped, lower-case hex", "GET /?secret=" + strings.ToLower(url.QueryEscape(sec))},
		{"json escaped", `{"secret":"` + strings.ReplaceAll(sec, "/", `\/`) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Redact(tc.msg, secrets)
			if !strings.Contains(got, Masked) {
				t.Errorf("Redact(%q) = %q: nothing masked", tc.msg, got)
			}
			for _, leak := range []string{sec, strings.ToLower(sec), basic, strings.TrimRight(basic, "=")} {
				if strings.Contains(got, leak) {
					t.Errorf("Redact(%q) = %q: still holds %q", tc.msg, got, leak)
				}
			}
		})
	}
	if got := Redact("status 500 from https://lrs.example/xapi/statements", secrets); got != "status 500 from https://lrs.example/xapi/statements" {
		t.Errorf("Redact changed a message without secrets: %q", got)
	}
	// Masked next to the text around a secret can spell a secret again:
	// "*abc" in "********abc".
	for _, tc := range []struct{ secret, msg string }{{"*abc", "x*abcabc"}, {"**ab", "**ab**abab"}} {
		if got := Redact(tc.msg, []string{tc.secret}); strings.Contains(got, tc.secret) {
			t.Errorf("Redact(%q) for secret %q = %q: the secret is there again", tc.msg, tc.secret, got)
		}
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		msg  string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789abc", 10, "0123456789…"},
		{"ééééé", 3, "é…"},
	} {
		if got := Excerpt(tc.msg, tc.n); got != tc.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tc.msg, tc.n, got, tc.want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("Basic bHJzLWtleTpTM2NyM3QvVmFsdWUrMQ==", "S3cr3t/Value+1")
	f.Add("plain S3CR3T", "s3cr3t")
	f.Fuzz(func(t *testing.T, msg, sec string) {
		if len(sec) < 4 || strings.Contains(Masked, sec) {
			return // too short to redact, or Masked itself
		}
		got := Redact(msg+sec+msg, []string{sec})
		if strings.Contains(got, sec) {
			t.Errorf("Redact left %q in %q", sec, got)
		}
	})
}

func TestMergeNestedSecrets(t *testing.T) {
	t.Parallel()
	prev := map[string]any{
		"endpoint": "https://a.example",
		"auth":     map[string]any{"user": "u", "password": "old-password"},
		"headers":  []any{map[string]any{"name": "X", "token": "old-token"}},
	}
	next := Mask(prev)
	next["auth"].(map[string]any)["user"] = "u2"
	got, missing, ok := Merge(next, prev)
	want := map[string]any{
		"endpoint": "https://a.example",
		"auth":     map[string]any{"user": "u2", "password": "old-password"},
		"headers":  []any{map[string]any{"name": "X", "token": "old-token"}},
	}
	if diff := cmp.Diff(want, got); diff != "" || !ok || missing != nil {
		t.Errorf("Merge of masked nested secrets: ok %v, missing %v (-want +got):\n%s", ok, missing, diff)
	}
	moved := Mask(prev)
	moved["auth"].(map[string]any)["server"] = "https://evil.example"
	if _, missing, ok := Merge(moved, prev); ok || !cmp.Equal(missing, []string{"auth.password", "headers[0].token"}) {
		t.Errorf("Merge for a new nested destination: ok %v, missing %v; want the secrets' paths", ok, missing)
	}
}
