package lrsserver_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// signer makes JWS signatures with a fresh RSA key and its self-signed
// certificate.
type signer struct {
	key  *rsa.PrivateKey
	cert []byte
}

func newSigner(t *testing.T) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key: key, cert: der}
}

func (s signer) sign(t *testing.T, alg string, payload []byte, x5c []byte) string {
	t.Helper()
	h := map[string]any{"alg": alg}
	if x5c != nil {
		h["x5c"] = []string{base64.StdEncoding.EncodeToString(x5c)}
	}
	hb, _ := json.Marshal(h)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestSignedStatements posts signed statements: a valid RS256 signature is
// accepted; a wrong content type, algorithm, payload or key is a 400.
func TestSignedStatements(t *testing.T) {
	srv := httptest.NewServer(lrsserver.New(lrsserver.NewMemoryStore(nil), lrsserver.Options{}))
	t.Cleanup(srv.Close)
	s, other := newSigner(t), newSigner(t)
	tests := []struct {
		name        string
		alg         string
		contentType string
		payload     func(st string) []byte
		x5c         []byte
		want        int
	}{
		{name: "RS256 with x5c", alg: "RS256", x5c: s.cert, want: 200},
		{name: "RS256 without x5c", alg: "RS256", want: 200},
		{name: "wrong content type", alg: "RS256", contentType: "text/plain", want: 400},
		{name: "HS256", alg: "HS256", want: 400},
		{name: "payload is not the statement", alg: "RS256", payload: func(st string) []byte { return []byte(strings.Replace(st, "completed", "failed", 1)) }, want: 400},
		{name: "payload is not JSON", alg: "RS256", payload: func(st string) []byte { return []byte(st[1:]) }, want: 400},
		{name: "signed with another key", alg: "RS256", x5c: other.cert, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := xapi.NewUUID()
			st := `{"id":"` + id + `","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"}}`
			payload := []byte(st)
			if tt.payload != nil {
				payload = tt.payload(st)
			}
			jws := s.sign(t, tt.alg, payload, tt.x5c)
			sum := sha256.Sum256([]byte(jws))
			h := hex.EncodeToString(sum[:])
			ct := tt.contentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			signed := strings.TrimSuffix(st, "}") + `,"attachments":[{"usageType":"` + lrsserver.UsageSignature + `","display":{"en":"signature"},"contentType":"` + ct + `","length":` + itoa(len(jws)) + `,"sha2":"` + h + `"}]}`
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			ph := textproto.MIMEHeader{"Content-Type": {"application/json"}}
			pw, _ := mw.CreatePart(ph)
			_, _ = pw.Write([]byte(signed))
			ah := textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}, "Content-Transfer-Encoding": {"binary"}, "X-Experience-Api-Hash": {h}}
			aw, _ := mw.CreatePart(ah)
			_, _ = aw.Write([]byte(jws))
			_ = mw.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/statements", &buf)
			req.Header.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
			req.Header.Set("X-Experience-API-Version", "1.0.3")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("POST signed statement = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
