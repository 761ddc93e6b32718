package lrs

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
)

// TestRedact_echoedCredentials checks that an LRS echoing the request in
// its error bodies cannot bring any form of the secret into errors or
// connection test reports.
func TestRedact_echoedCredentials(t *testing.T) {
	t.Parallel()
	pair := testKey + ":" + testSecret
	b64 := base64.StdEncoding.EncodeToString([]byte(pair))
	forms := []string{
		testSecret, strings.ToUpper(testSecret), b64, strings.ToLower(b64), strings.ToUpper(b64),
		base64.RawURLEncoding.EncodeToString([]byte(pair)), base64.StdEncoding.EncodeToString([]byte(testSecret)),
	}
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusInternalServerError} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			// Each form first, so that truncation does not hide them.
			body := "request was: Authorization: " + strings.ToLower(h) + " | " + strings.ToUpper(h) + " | " + strings.Join(forms, " | ")
			w.Header().Set("Location", "https://elsewhere.example/?auth="+b64)
			http.Error(w, body, status)
		}))
		t.Cleanup(srv.Close)
		s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
		_, derr := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
		resp, _ := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(1), stmt(2)}})
		rep, err := s.TestConnection(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		texts := []string{}
		if derr != nil {
			texts = append(texts, derr.Error())
		}
		for _, v := range resp.Verdicts {
			if v.Err != nil {
				texts = append(texts, v.Err.Error())
			}
		}
		for _, st := range rep.Steps {
			texts = append(texts, st.Message)
		}
		if len(texts) == 0 {
			t.Fatalf("status %d: no error text to check", status)
		}
		for _, text := range texts {
			if len([]rune(text)) > 600 {
				t.Errorf("status %d: error text of %d characters; want a short excerpt", status, len(text))
			}
			for _, f := range forms {
				if strings.Contains(strings.ToLower(text), strings.ToLower(f)) {
					t.Errorf("status %d: text shows a form of the secret (%.12s…): %s", status, f, text)
				}
			}
		}
	}
}

func TestRedactor(t *testing.T) {
	t.Parallel()
	r := newRedactor("key:s3cret", "s3cret", "ab") // too short to redact: "ab"
	tests := []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"pw S3CRET and s3cret", "pw [redacted] and [redacted]"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("key:s3cret")), "Basic [redacted]"},
		{"about ab", "about ab"},
		{"url key%3As3cret", "url [redacted]"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, r.apply(tt.in)); diff != "" {
			t.Errorf("apply(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	if got := r.apply("token tok-123 here", "tok-123"); got != "token [redacted] here" {
		t.Errorf("apply with an extra value = %q", got)
	}
	// The marker next to the text around a secret can spell a secret
	// again: "]00" in "[redacted]00".
	for _, tc := range []struct{ secret, text string }{{"]00", "x]0000"}, {"d]-x", "d]-xd]-x-x"}} {
		if got := newRedactor(tc.secret).apply(tc.text); strings.Contains(strings.ToLower(got), tc.secret) {
			t.Errorf("apply(%q) for secret %q = %q: the secret is there again", tc.text, tc.secret, got)
		}
	}
}

// TestParseConfig_fileSettings checks that file settings are read bounded
// in size and kind, and that every failure gives the same answer, so that
// it reveals nothing about local files.
func TestParseConfig_fileSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPEM, keyPEM := testCertPair(t)
	otherCert, otherKey := testCertPair(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("ca.pem", certPEM)
	cert := write("cert.pem", certPEM)
	key := write("key.pem", keyPEM)
	otherKeyFile := write("other-key.pem", otherKey)
	_ = otherCert
	notPEM := write("notes.txt", []byte("hello"))
	big := write("big.pem", append(certPEM, make([]byte, 2<<20)...))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	tests := []struct {
		name string
		kv   map[string]any
		want []sdk.FieldError
	}{
		{"ca file", map[string]any{KeyCAFile: ca}, nil},
		{"client pair files", map[string]any{KeyClientCertFile: cert, KeyClientKeyFile: key}, nil},
		{"ca missing", map[string]any{KeyCAFile: filepath.Join(dir, "nope")}, []sdk.FieldError{{Field: KeyCAFile, Message: errFileSetting}}},
		{"ca not PEM", map[string]any{KeyCAFile: notPEM}, []sdk.FieldError{{Field: KeyCAFile, Message: errFileSetting}}},
		{"ca too large", map[string]any{KeyCAFile: big}, []sdk.FieldError{{Field: KeyCAFile, Message: errFileSetting}}},
		{"ca directory", map[string]any{KeyCAFile: dir}, []sdk.FieldError{{Field: KeyCAFile, Message: errFileSetting}}},
		{"ca fifo", map[string]any{KeyCAFile: fifo}, []sdk.FieldError{{Field: KeyCAFile, Message: errFileSetting}}},
		{"ca device", map[string]any{KeyCAFile: os.DevNull}, []sdk.FieldError{{Field: KeyCAFile, Message: errFileSetting}}},
		{"key fifo", map[string]any{KeyClientCertFile: cert, KeyClientKeyFile: fifo}, []sdk.FieldError{{Field: KeyClientKeyFile, Message: errFileSetting}}},
		{"key of another pair", map[string]any{KeyClientCertFile: cert, KeyClientKeyFile: otherKeyFile}, []sdk.FieldError{{Field: KeyClientCertFile, Message: errFileSetting}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseConfig("https://lrs.example.com/xapi/")
			for k, v := range tt.kv {
				m[k] = v
			}
			_, err := ParseConfig(m)
			var got []sdk.FieldError
			if ce, ok := err.(*sdk.ConfigError); ok {
				got = ce.Fields
			} else if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzRedactor checks that no form of a secret survives redaction, whatever
// the text around it and its letter case.
func FuzzRedactor(f *testing.F) {
	f.Add("key:s3cret", "Basic a2V5OnMzY3JldA== echoed", "S3CRET")
	f.Add("İstanbul-secret", "text İSTANBUL-SECRET and İstanbul-secret", "x")
	f.Add("päss-wörd", "PÄSS-WÖRD päss-wörd", "päss")
	f.Fuzz(func(t *testing.T, secret, text, other string) {
		if len(secret) < minRedactLen || strings.Contains(strings.ToLower(redacted), strings.ToLower(secret)) {
			return // too short to redact, or inside the marker itself
		}
		r := newRedactor(secret)
		in := text + secret + other + base64.StdEncoding.EncodeToString([]byte(secret)) + text
		out := r.apply(in)
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(out, form) {
				t.Fatalf("apply(%q) = %q still holds %q", in, out, form)
			}
		}
	})
}
