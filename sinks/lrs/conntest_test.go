package lrs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

type stepStatus struct {
	Name   string
	Status sdk.StepStatus
}

func steps(r sdk.Report) []stepStatus {
	var out []stepStatus
	for _, s := range r.Steps {
		out = append(out, stepStatus{s.Name, s.Status})
	}
	return out
}

func TestTestConnection(t *testing.T) {
	t.Parallel()
	const (
		P = sdk.StepPassed
		W = sdk.StepWarning
		F = sdk.StepFailed
		S = sdk.StepSkipped
	)
	mk := func(st ...sdk.StepStatus) []stepStatus {
		names := []string{StepURL, StepDNS, StepConnect, StepTLS, StepAbout, StepAuth}
		out := make([]stepStatus, len(st))
		for i := range st {
			out[i] = stepStatus{names[i], st[i]}
		}
		return out
	}
	// statementsMissing serves about but no statements resource.
	statementsMissing := func(l *lrstest.LRS) http.Handler {
		return handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/statements") {
				http.NotFound(w, r)
				return
			}
			l.ServeHTTP(w, r)
		})
	}
	tests := []struct {
		name    string
		opts    lrstest.Options
		handler func(*lrstest.LRS) http.Handler
		host    string // replaces 127.0.0.1 in the endpoint; resolved by the fake resolver
		path    string // endpoint path; "/xapi/" when empty
		cfg     map[string]any
		setup   func(l *lrstest.LRS, srv *httptest.Server)
		want    []stepStatus
		// wantMessage is a phrase the failed or warned step's message
		// contains.
		wantMessage string
	}{
		{name: "all good over http", want: mk(W, P, P, S, P, P)},
		{name: "all good by name", host: "lrs.example.test", want: mk(W, P, P, S, P, P)},
		{name: "wrong secret", cfg: map[string]any{KeySecret: "nope"}, want: mk(W, P, P, S, P, F), wantMessage: "key or secret is wrong"},
		{
			name: "write-only key", opts: lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret, Access: lrstest.WriteOnly}}},
			want: mk(W, P, P, S, P, W), wantMessage: "write-only keys are common",
		},
		{
			name: "read-only key", opts: lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret, Access: lrstest.ReadOnly}}},
			want: mk(W, P, P, S, P, P),
		},
		{name: "wrong path", path: "/lms/", want: mk(W, P, P, S, F, S), wantMessage: "probably not the xAPI endpoint"},
		{name: "statements missing", handler: statementsMissing, want: mk(W, P, P, S, P, F), wantMessage: "probably not the xAPI endpoint"},
		{
			name: "version not supported", opts: lrstest.Options{Versions: []string{"1.0.3"}}, cfg: map[string]any{KeyXAPIVersion: "2.0.0"},
			want: mk(W, P, P, S, F, F), wantMessage: "supports xAPI 1.0.3, but the integration is set to xAPI 2.0.0",
		},
		{
			name:  "about unavailable",
			setup: func(l *lrstest.LRS, _ *httptest.Server) { l.Fail(lrstest.Fault{Status: 503, Resource: "about"}) },
			want:  mk(W, P, P, S, F, S), wantMessage: "503 Service Unavailable",
		},
		{name: "name refused by policy", host: "internal.example.test", want: mk(W, F, S, S, S, S), wantMessage: "10.0.0.1, a private address"},
		{name: "unknown name", host: "nowhere.example.test", want: mk(W, F, S, S, S, S), wantMessage: "could not be found"},
		{
			name:  "nothing listening",
			setup: func(_ *lrstest.LRS, srv *httptest.Server) { srv.Close() },
			want:  mk(W, P, F, S, S, S), wantMessage: "connection was refused",
		},
	}
	resolver := fakeResolver{
		"lrs.example.test":      addrs("127.0.0.1"),
		"internal.example.test": addrs("10.0.0.1"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.Credentials == nil {
				tt.opts.Credentials = []lrstest.Credential{{Key: testKey, Secret: testSecret}}
			}
			l := lrstest.New(tt.opts)
			var h http.Handler = l
			if tt.handler != nil {
				h = tt.handler(l)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			u, _ := url.Parse(srv.URL)
			if tt.host != "" {
				u.Host = tt.host + ":" + u.Port()
			}
			u.Path = "/xapi/"
			if tt.path != "" {
				u.Path = tt.path
			}
			cfg := baseConfig(u.String())
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			s := newTestSink(t, cfg, loopbackPolicy, withResolver(resolver))
			if tt.setup != nil {
				tt.setup(l, srv)
			}
			rep, err := s.TestConnection(context.Background())
			if err != nil {
				t.Fatalf("TestConnection() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, steps(rep)); diff != "" {
				t.Errorf("steps (-want +got):\n%s\nreport: %+v", diff, rep.Steps)
			}
			wantOK := true
			for _, st := range tt.want {
				wantOK = wantOK && st.Status != sdk.StepFailed
			}
			if rep.OK() != wantOK {
				t.Errorf("OK() = %v, want %v", rep.OK(), wantOK)
			}
			found := tt.wantMessage == ""
			for _, st := range rep.Steps {
				if st.Title == "" || st.Message == "" {
					t.Errorf("step %s has title %q and message %q, want both", st.Name, st.Title, st.Message)
				}
				if strings.Contains(st.Message, testSecret) {
					t.Errorf("step %s message contains the secret", st.Name)
				}
				if (st.Status == sdk.StepFailed || st.Status == sdk.StepWarning) && strings.Contains(st.Message, tt.wantMessage) {
					found = true
				}
				if st.Status == sdk.StepSkipped && st.Duration != 0 && st.Name != StepTLS && st.Name != StepConnect {
					t.Errorf("skipped step %s took %v", st.Name, st.Duration)
				}
			}
			if !found {
				t.Errorf("no failed or warning step says %q: %+v", tt.wantMessage, rep.Steps)
			}
			for _, r := range l.Requests() {
				if r.Method != http.MethodGet {
					t.Errorf("connection test sent %s %s, want only reads", r.Method, r.Resource)
				}
			}
			if l.Len() != 0 {
				t.Errorf("connection test stored %d statements", l.Len())
			}
		})
	}
}

func TestTestConnectionCanceled(t *testing.T) {
	t.Parallel()
	_, srv := newLRS(t, lrstest.Options{})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.TestConnection(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("TestConnection(canceled) error = %v, want context.Canceled", err)
	}
	_ = s.Close(context.Background())
	if _, err := s.TestConnection(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("TestConnection() after Close error = %v, want ErrClosed", err)
	}
}
