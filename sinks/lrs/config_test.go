package lrs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func TestNormalizeEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "adds slash", in: "https://lrs.example.com/xapi", want: "https://lrs.example.com/xapi/"},
		{name: "keeps slash", in: "https://lrs.example.com/xapi/", want: "https://lrs.example.com/xapi/"},
		{name: "root", in: "https://lrs.example.com", want: "https://lrs.example.com/"},
		{name: "trims space", in: "  https://lrs.example.com/xapi \n", want: "https://lrs.example.com/xapi/"},
		{name: "statements", in: "https://lrs.example.com/xapi/statements", want: "https://lrs.example.com/xapi/"},
		{name: "statements slash", in: "https://lrs.example.com/xapi/statements/", want: "https://lrs.example.com/xapi/"},
		{name: "statements query", in: "https://lrs.example.com/xapi/statements?limit=1", want: "https://lrs.example.com/xapi/"},
		{name: "statements case", in: "https://lrs.example.com/xapi/Statements", want: "https://lrs.example.com/xapi/"},
		{name: "about", in: "https://lrs.example.com/data/xAPI/about", want: "https://lrs.example.com/data/xAPI/"},
		{name: "double slash before resource", in: "https://lrs.example.com//statements", want: "https://lrs.example.com/"},
		{name: "several trailing slashes", in: "https://lrs.example.com/xapi///", want: "https://lrs.example.com/xapi/"},
		{name: "about slash query", in: "https://lrs.example.com/xapi/about/?x=1", want: "https://lrs.example.com/xapi/"},
		{name: "scheme and host case", in: "HTTPS://LRS.Example.com/XAPI", want: "https://lrs.example.com/XAPI/"},
		{name: "port", in: "https://lrs.example.com:8443/xapi", want: "https://lrs.example.com:8443/xapi/"},
		{name: "http", in: "http://lrs.example.com/xapi", want: "http://lrs.example.com/xapi/"},
		{name: "ipv6", in: "https://[2001:db8::1]:8443/xapi", want: "https://[2001:db8::1]:8443/xapi/"},
		{name: "escaped path", in: "https://lrs.example.com/my%20lrs/xapi", want: "https://lrs.example.com/my%20lrs/xapi/"},
		{name: "empty", in: " ", wantErr: true},
		{name: "no scheme", in: "lrs.example.com/xapi", wantErr: true},
		{name: "ftp", in: "ftp://lrs.example.com/xapi", wantErr: true},
		{name: "javascript", in: "javascript:alert(1)", wantErr: true},
		{name: "userinfo", in: "https://user:pass@lrs.example.com/xapi", wantErr: true},
		{name: "user only", in: "https://user@lrs.example.com/xapi", wantErr: true},
		{name: "fragment", in: "https://lrs.example.com/xapi#x", wantErr: true},
		{name: "empty fragment", in: "https://lrs.example.com/xapi#", wantErr: true},
		{name: "query on base", in: "https://lrs.example.com/xapi?tenant=1", wantErr: true},
		{name: "no host", in: "https:///xapi", wantErr: true},
		{name: "bad port", in: "https://lrs.example.com:99999/xapi", wantErr: true},
		{name: "space inside", in: "https://lrs.example.com/x api", wantErr: true},
		{name: "control char", in: "https://lrs.example.com/x\x00api", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEndpoint(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NormalizeEndpoint(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NormalizeEndpoint(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	certPEM, keyPEM := testCertPair(t)
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	with := func(kv ...any) map[string]any {
		m := baseConfig("https://lrs.example.com/xapi/statements")
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name       string
		in         map[string]any
		want       Config // compared without secrets
		wantFields []string
	}{
		{
			name: "minimal",
			in:   with(),
			want: Config{Label: "Test LRS", Version: xapi.V103, Endpoint: "https://lrs.example.com/xapi/", Key: testKey},
		},
		{
			name: "everything",
			in: with(KeyXAPIVersion, "2.0.0", KeyCAFile, caFile, KeyClientCertPEM, string(certPEM), KeyClientKeyPEM, string(keyPEM),
				KeyInsecureSkipVerify, true, KeyTimeout, "45s", KeyMaxBatch, float64(250)),
			want: Config{
				Label: "Test LRS", Version: xapi.V200, Endpoint: "https://lrs.example.com/xapi/", Key: testKey,
				CAPEM: strings.TrimSpace(string(certPEM)), ClientCertPEM: strings.TrimSpace(string(certPEM)),
				InsecureSkipVerify: true, Timeout: 45 * time.Second, MaxBatch: 250,
			},
		},
		{name: "2.0 synonym", in: with(KeyXAPIVersion, "2.0"), want: Config{Label: "Test LRS", Version: xapi.V200, Endpoint: "https://lrs.example.com/xapi/", Key: testKey}},
		{name: "timeout seconds", in: with(KeyTimeout, float64(10)), want: Config{Label: "Test LRS", Version: xapi.V103, Endpoint: "https://lrs.example.com/xapi/", Key: testKey, Timeout: 10 * time.Second}},
		{name: "missing everything", in: map[string]any{}, wantFields: []string{KeyXAPIVersion, KeyEndpoint, KeyKey, KeySecret}},
		{name: "bad version", in: with(KeyXAPIVersion, "1.0.2"), wantFields: []string{KeyXAPIVersion}},
		{name: "version not text", in: with(KeyXAPIVersion, 1.0), wantFields: []string{KeyXAPIVersion}},
		{name: "bad endpoint", in: with(KeyEndpoint, "ftp://x"), wantFields: []string{KeyEndpoint}},
		{name: "colon in key", in: with(KeyKey, "a:b"), wantFields: []string{KeyKey}},
		{name: "secret not text", in: with(KeySecret, true), wantFields: []string{KeySecret}},
		{name: "insecure as text", in: with(KeyInsecureSkipVerify, "true"), want: Config{Label: "Test LRS", Version: xapi.V103, Endpoint: "https://lrs.example.com/xapi/", Key: testKey, InsecureSkipVerify: true}},
		{name: "insecure garbage", in: with(KeyInsecureSkipVerify, "maybe"), wantFields: []string{KeyInsecureSkipVerify}},
		{name: "timeout garbage", in: with(KeyTimeout, "soon"), wantFields: []string{KeyTimeout}},
		{name: "timeout too long", in: with(KeyTimeout, "1h"), wantFields: []string{KeyTimeout}},
		{name: "timeout too short", in: with(KeyTimeout, "10ms"), wantFields: []string{KeyTimeout}},
		{name: "max batch zero", in: with(KeyMaxBatch, float64(0)), wantFields: []string{KeyMaxBatch}},
		{name: "max batch fraction", in: with(KeyMaxBatch, 2.5), wantFields: []string{KeyMaxBatch}},
		{name: "max batch huge", in: with(KeyMaxBatch, float64(1e6)), wantFields: []string{KeyMaxBatch}},
		{name: "ca garbage", in: with(KeyCAPEM, "not a pem"), wantFields: []string{KeyCAPEM}},
		{name: "ca file missing", in: with(KeyCAFile, filepath.Join(dir, "nope.pem")), wantFields: []string{KeyCAFile}},
		{name: "cert without key", in: with(KeyClientCertPEM, string(certPEM)), wantFields: []string{KeyClientKeyPEM}},
		{name: "key without cert", in: with(KeyClientKeyPEM, string(keyPEM)), wantFields: []string{KeyClientCertPEM}},
		{name: "cert and file", in: with(KeyClientCertPEM, string(certPEM), KeyClientCertFile, caFile, KeyClientKeyPEM, string(keyPEM)), wantFields: []string{KeyClientCertFile}},
		{name: "unknown key", in: with("endpiont", "https://x"), wantFields: []string{"endpiont"}},
		{name: "several", in: with(KeyKey, nil, KeyTimeout, "x", "zzz", 1.0), wantFields: []string{"zzz", KeyTimeout, KeyKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConfig(tt.in)
			var ce *sdk.ConfigError
			if tt.wantFields != nil {
				if !errors.As(err, &ce) {
					t.Fatalf("ParseConfig() error = %v, want *sdk.ConfigError", err)
				}
				var fields []string
				for _, f := range ce.Fields {
					fields = append(fields, f.Field)
					if strings.Contains(f.Message, testSecret) {
						t.Errorf("field %s message contains the secret", f.Field)
					}
				}
				if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
					t.Errorf("ParseConfig() fields (-want +got):\n%s", diff)
				}
				if !sdk.IsPermanent(err) {
					t.Errorf("sdk.IsPermanent(%v) = false, want true", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig() error = %v", err)
			}
			if got.Secret.Reveal() != testSecret {
				t.Errorf("Secret.Reveal() = %q, want the configured secret", got.Secret.Reveal())
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate() of parsed config = %v", err)
			}
			got.Secret, got.ClientKeyPEM = Secret{}, Secret{}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b Secret) bool { return a.Reveal() == b.Reveal() })); diff != "" {
				t.Errorf("ParseConfig() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretMasking(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig(baseConfig("https://lrs.example.com/xapi/"))
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		hidden Secret
		Shown  Secret
	}
	h := holder{hidden: NewSecret(testSecret), Shown: NewSecret(testSecret)}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("configured", "config", cfg, "secret", cfg.Secret)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("configured", "config", cfg, "secret", cfg.Secret, "holder", h)
	jsonBytes, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, baseConfig("https://lrs.example.com/xapi/"), sdk.EgressPolicy{})
	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", cfg),
		"%+v":         fmt.Sprintf("%+v", cfg),
		"%#v":         fmt.Sprintf("%#v", cfg),
		"%s secret":   fmt.Sprintf("%s", cfg.Secret),
		"%q secret":   fmt.Sprintf("%q", cfg.Secret),
		"%x secret":   fmt.Sprintf("%x", cfg.Secret),
		"%+v holder":  fmt.Sprintf("%+v", h),
		"%#v holder":  fmt.Sprintf("%#v", h),
		"%+v sink":    fmt.Sprintf("%+v", s),
		"%#v sink":    fmt.Sprintf("%#v", s),
		"slog":        logBuf.String(),
		"json":        string(jsonBytes),
		"Error":       (&sdk.ConfigError{Fields: []sdk.FieldError{{Field: "secret", Message: fmt.Sprint(cfg.Secret)}}}).Error(),
		"String":      cfg.Secret.String(),
		"GoString":    cfg.Secret.GoString(),
		"LogValue":    cfg.Secret.LogValue().String(),
		"sink config": fmt.Sprintf("%+v", s.Config()),
	}
	for name, out := range outputs {
		if strings.Contains(out, testSecret) {
			t.Errorf("%s output contains the secret: %s", name, out)
		}
	}
	for _, name := range []string{"%v", "%s secret", "json", "slog", "String", "GoString"} {
		if !strings.Contains(outputs[name], redacted) {
			t.Errorf("%s output = %q, want it to show %q", name, outputs[name], redacted)
		}
	}
}

func FuzzNormalizeEndpoint(f *testing.F) {
	for _, s := range []string{
		"https://lrs.example.com/xapi", "https://lrs.example.com/xapi/statements?x=1", "http://[::1]:80/about/",
		"https://lrs.example.com/a%2Fb/statements", "HTTPS://X/Y/ABOUT", "https://u@x/", "https://x/#",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeEndpoint(in)
		if err != nil {
			return
		}
		again, err := NormalizeEndpoint(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeEndpoint(%q) = %q, which normalizes to %q, %v", in, out, again, err)
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("NormalizeEndpoint(%q) = %q, which does not parse: %v", in, out, err)
		}
		if (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			u.Hostname() == "" || !strings.HasSuffix(u.EscapedPath(), "/") {
			t.Fatalf("NormalizeEndpoint(%q) = %q, not a clean base URL", in, out)
		}
	})
}
