package webhook_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/examples/custom-sink/webhook"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

func TestConfigure_invalid(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		egress sdk.EgressPolicy
		want   []sdk.FieldError
	}{
		{"missing url", map[string]any{}, loopback, []sdk.FieldError{{Field: "url", Message: "is required"}}},
		{"relative url", map[string]any{"url": "/hook"}, loopback, []sdk.FieldError{{Field: "url", Message: "is not an absolute URL"}}},
		{"http not allowed", map[string]any{"url": "http://example.com/hook"}, sdk.EgressPolicy{}, []sdk.FieldError{{Field: "url", Message: "must use https"}}},
		{"token not a string", map[string]any{"url": "https://example.com/hook", "token": 42.0}, loopback, []sdk.FieldError{{Field: "token", Message: "must be text"}}},
		{"unknown key", map[string]any{"url": "https://example.com/hook", "tokn": "x"}, loopback, []sdk.FieldError{{Field: "tokn", Message: "is not a setting of this sink"}}},
		{"bad timeout", map[string]any{"url": "https://example.com/hook", "timeout": "soon"}, loopback, []sdk.FieldError{{Field: "timeout", Message: "must be a duration such as 30s or 2m, or a number of seconds"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.Provider().Configure(context.Background(), sdk.ConfigureRequest{Instance: "x", Config: tt.config, Egress: tt.egress})
			var cerr *sdk.ConfigError
			if !errors.As(err, &cerr) {
				t.Fatalf("Configure = %v; want a *sdk.ConfigError", err)
			}
			if diff := cmp.Diff(tt.want, cerr.Fields); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeliver(t *testing.T) {
	var gotAuth, gotType string
	var gotLines int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotType = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			gotLines++
		}
		w.WriteHeader(http.StatusConflict)
	}))
	t.Cleanup(srv.Close)

	sink, err := webhook.Provider().Configure(context.Background(), sdk.ConfigureRequest{
		Instance: "x", Config: map[string]any{"url": srv.URL, "token": "t0ken"}, Egress: loopback,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close(context.Background()) })
	resp, err := sink.Deliver(context.Background(), sdk.DeliverRequest{Statements: sinktest.Statements(3)})
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Verdict{{AlreadyStored: true}, {AlreadyStored: true}, {AlreadyStored: true}}
	if diff := cmp.Diff(want, resp.Verdicts); diff != "" {
		t.Errorf("verdicts for a 409 answer mismatch (-want +got):\n%s", diff)
	}
	got := []any{gotAuth, gotType, gotLines}
	if diff := cmp.Diff([]any{"Bearer t0ken", "application/x-ndjson", 3}, got); diff != "" {
		t.Errorf("request mismatch (-want +got):\n%s", diff)
	}
}

// TestDeliver_errorKeepsTokenOut: a receiver that echoes the request's
// Authorization header in its error answer does not get the token, or a
// piece of it, into the error, wherever the echo falls in the answer.
func TestDeliver_errorKeepsTokenOut(t *testing.T) {
	const token = "tok-0123456789abcdefghijklmnopqrstuvwxyz"
	for _, pad := range []int{0, 170, 190, 199, 250} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, strings.Repeat("x", pad)+"echo: "+r.Header.Get("Authorization")+" end")
		}))
		sink, err := webhook.Provider().Configure(context.Background(), sdk.ConfigureRequest{
			Instance: "x", Config: map[string]any{"url": srv.URL, "token": token}, Egress: loopback,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sink.Deliver(context.Background(), sdk.DeliverRequest{Statements: sinktest.Statements(1)})
		_ = sink.Close(context.Background())
		srv.Close()
		if err == nil {
			t.Fatalf("pad %d: Deliver of a 400 answer = nil; want an error", pad)
		}
		if msg := err.Error(); strings.Contains(msg, token[:8]) {
			t.Errorf("pad %d: error %q holds (a piece of) the token", pad, msg)
		}
	}
}

func TestDeliver_egressRefusesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the receiver was reached although the egress policy refuses loopback")
	}))
	t.Cleanup(srv.Close)
	sink, err := webhook.Provider().Configure(context.Background(), sdk.ConfigureRequest{
		Instance: "x", Config: map[string]any{"url": srv.URL}, Egress: sdk.EgressPolicy{AllowHTTP: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sink.Deliver(context.Background(), sdk.DeliverRequest{Statements: sinktest.Statements(1)})
	var ee *sdk.EgressError
	if !errors.As(err, &ee) || ee.Reason != "a loopback address" {
		t.Errorf("Deliver to a refused address = %v; want an *sdk.EgressError for a loopback address", err)
	}
}
