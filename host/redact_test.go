package host

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/sdk"
)

// echoSink fails every batch and every connection test with a message
// that echoes its credentials the way some LRSs echo a request: the HTTP
// Basic value, the secret in other letter cases, URL-encoded, and a long
// body.
type echoSink struct{ key, secret string }

func (s echoSink) echo() string {
	basic := base64.StdEncoding.EncodeToString([]byte(s.key + ":" + s.secret))
	return fmt.Sprintf(`LRS answered 500: {"request":{"headers":{"Authorization":"Basic %s"},"query":"secret=%s"},"note":"%s / %s"}%s`,
		basic, url.QueryEscape(s.secret), strings.ToUpper(s.secret), base64.RawURLEncoding.EncodeToString([]byte(s.secret)),
		strings.Repeat(" padding", 2000))
}

func (s echoSink) Deliver(context.Context, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	return sdk.DeliverResponse{}, errors.New(s.echo())
}

func (s echoSink) TestConnection(context.Context) (sdk.Report, error) {
	return sdk.Report{Steps: []sdk.Step{{Name: "auth", Title: "Sign in", Status: sdk.StepFailed, Message: s.echo()}}}, nil
}

func (s echoSink) Close(context.Context) error { return nil }

// TestEncodedSecretsNeverShown checks that status, connection reports and
// errors show no form derived from a secret (issue 11, item 11), and only a
// short excerpt of what the sink said.
func TestEncodedSecretsNeverShown(t *testing.T) {
	t.Parallel()
	const key, sec = "lrs-key", "Hunter2-Very/Secret"
	cfg := testConfig(t)
	addOrg(&cfg, "acme", SinkConfig{ID: "echo", Plugin: "echo", Config: map[string]any{"key": key, "secret": sec}})
	echo := sdk.ProviderFunc(func(_ context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
		return echoSink{key: fmt.Sprint(req.Config["key"]), secret: fmt.Sprint(req.Config["secret"])}, nil
	})
	h := newHost(t, cfg, WithProvider("echo", echo))
	if err := h.Record(context.Background(), "acme", statement("acme", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a delivery error", func() bool { return sinkStatus(t, h, "acme", "echo").LastError != "" })
	st := sinkStatus(t, h, "acme", "echo")
	rep, err := h.TestIntegration(context.Background(), "acme", Integration{ID: "echo", Plugin: "echo",
		Config: map[string]any{"key": key, "secret": Masked}})
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{"status last error": st.LastError, "report": rep.Steps[0].Message}
	leaks := []string{
		sec, strings.ToUpper(sec), strings.ToLower(sec), url.QueryEscape(sec),
		base64.StdEncoding.EncodeToString([]byte(key + ":" + sec)),
		base64.RawURLEncoding.EncodeToString([]byte(sec)),
	}
	for what, msg := range shown {
		if !strings.Contains(msg, "LRS answered 500") {
			t.Errorf("%s lost the sink's message: %q", what, msg)
		}
		for _, leak := range leaks {
			if strings.Contains(msg, leak) {
				t.Errorf("%s shows %q: %q", what, leak, msg)
			}
		}
		if len(msg) > secret.MaxShown+len("…") {
			t.Errorf("%s is %d bytes long, want at most %d", what, len(msg), secret.MaxShown)
		}
	}
}
