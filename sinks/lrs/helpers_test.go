package lrs

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

const (
	testKey    = "lf-key"
	testSecret = "s3cr3t-value-never-printed"
)

// loopbackPolicy allows the loopback test servers (and plain http to them).
var loopbackPolicy = sdk.EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	AllowHTTP:  true,
}

// newLRS serves an lrstest.LRS with the test credentials on loopback.
func newLRS(t testing.TB, opts lrstest.Options) (*lrstest.LRS, *httptest.Server) {
	t.Helper()
	if opts.Credentials == nil {
		opts.Credentials = []lrstest.Credential{{Key: testKey, Secret: testSecret}}
	}
	l := lrstest.New(opts)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, srv
}

// baseConfig is a valid configuration for endpoint.
func baseConfig(endpoint string) map[string]any {
	return map[string]any{
		KeyLabel:       "Test LRS",
		KeyXAPIVersion: "1.0.3",
		KeyEndpoint:    endpoint,
		KeyKey:         testKey,
		KeySecret:      testSecret,
	}
}

// newTestSink configures a sink for cfg under policy, with the environment's
// proxies turned off, and closes it at cleanup.
func newTestSink(t testing.TB, cfg map[string]any, policy sdk.EgressPolicy, opts ...option) *Sink {
	t.Helper()
	opts = append([]option{withProxy(nil)}, opts...)
	s, err := newSink(context.Background(), sdk.ConfigureRequest{
		Instance: "acme/lrs-1", Org: "acme", Config: cfg, Egress: policy,
	}, opts...)
	if err != nil {
		t.Fatalf("newSink: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// stmtID returns the id of test statement i.
func stmtID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// stmt returns a valid xAPI statement with id stmtID(i).
func stmt(i int) sdk.Statement {
	id := stmtID(i)
	return sdk.Statement{ID: id, JSON: []byte(`{"id":"` + id + `","actor":{"objectType":"Agent","account":{"homePage":"https://learningflow.example","name":"u` + fmt.Sprint(i) + `"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},"object":{"objectType":"Activity","id":"https://learningflow.example/courses/1"},"timestamp":"2026-01-02T03:04:05.000Z"}`)}
}

// badStmt returns a statement with id stmtID(i) that every LRS rejects
// (result.success is a string).
func badStmt(i int) sdk.Statement {
	id := stmtID(i)
	return sdk.Statement{ID: id, JSON: []byte(`{"id":"` + id + `","actor":{"objectType":"Agent","account":{"homePage":"https://learningflow.example","name":"u"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},"object":{"objectType":"Activity","id":"https://learningflow.example/courses/1"},"result":{"success":"true"}}`)}
}

// stmts returns valid statements with ids from..to-1.
func stmts(from, to int) []sdk.Statement {
	out := make([]sdk.Statement, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, stmt(i))
	}
	return out
}

// fakeResolver maps host names to addresses; other names do not exist.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// addrs parses addresses.
func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// statusCounts counts the statuses of the statements requests an LRS saw.
func statusCounts(l *lrstest.LRS) map[int]int {
	m := map[int]int{}
	for _, r := range l.Requests() {
		if r.Resource == "statements" {
			m[r.Status]++
		}
	}
	return m
}

// handlerFunc adapts a function to http.Handler for one-off LRS answers.
type handlerFunc = http.HandlerFunc
