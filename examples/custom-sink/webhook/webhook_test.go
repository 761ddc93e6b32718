package webhook_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/examples/custom-sink/webhook"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

var loopback = sdk.EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	AllowHTTP:  true,
}

// scriptedServer starts a loopback webhook receiver that answers as s says.
func scriptedServer(t testing.TB, s sinktest.Scenario) string {
	reject := map[string]bool{}
	for _, id := range s.Reject {
		reject[id] = true
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.Behavior {
		case sinktest.Reject:
			sc := bufio.NewScanner(r.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var st struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(sc.Bytes(), &st); err != nil || reject[st.ID] {
					http.Error(w, "statement "+st.ID+" is invalid", http.StatusBadRequest)
					return
				}
			}
		case sinktest.FailRetryable:
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		case sinktest.FailRetryAfter:
			w.Header().Set("Retry-After", strconv.Itoa(int(s.RetryAfter/time.Second)))
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		case sinktest.FailUnauthenticated:
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		case sinktest.FailForbidden:
			http.Error(w, "not you", http.StatusForbidden)
			return
		case sinktest.Stall:
			// The server notices the client going away only once the
			// body has been read.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Provider:      webhook.Provider(),
		Egress:        loopback,
		EgressSetting: "url",
		Config: func(t testing.TB, s sinktest.Scenario) map[string]any {
			if s.Behavior == sinktest.InvalidConfig {
				return map[string]any{"url": "ftp://example.com/hook"}
			}
			return map[string]any{"url": scriptedServer(t, s), "token": "s3cret"}
		},
	})
}

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
