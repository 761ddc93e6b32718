package lrs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// outcome summarizes a verdict for comparison.
type outcome string

const (
	delivered     outcome = "delivered"
	alreadyStored outcome = "already-stored"
	permanent     outcome = "permanent"
	retryable     outcome = "retryable"
	authFailure   outcome = "auth"
)

func outcomes(t *testing.T, resp sdk.DeliverResponse, n int) []outcome {
	t.Helper()
	if resp.Verdicts == nil {
		out := make([]outcome, n)
		for i := range out {
			out[i] = delivered
		}
		return out
	}
	if len(resp.Verdicts) != n {
		t.Fatalf("got %d verdicts, want %d", len(resp.Verdicts), n)
	}
	out := make([]outcome, n)
	for i, v := range resp.Verdicts {
		switch {
		case v.AlreadyStored && v.Err == nil:
			out[i] = alreadyStored
		case v.Err == nil:
			out[i] = delivered
		case sdk.IsPermanent(v.Err):
			out[i] = permanent
		case sdk.IsAuth(v.Err):
			out[i] = authFailure
		default:
			out[i] = retryable
		}
	}
	return out
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	differing := stmt(1)
	differing.JSON = []byte(strings.Replace(string(differing.JSON), `"u1"`, `"someone-else"`, 1))
	tests := []struct {
		name  string
		opts  lrstest.Options
		cfg   map[string]any
		setup func(t *testing.T, l *lrstest.LRS, s *Sink)
		batch []sdk.Statement
		// want are the verdicts; nil expects a whole-batch error.
		want       []outcome
		wantStored []string
		wantErr    func(error) bool
		// wantStatuses counts the statuses of the statements requests.
		wantStatuses map[int]int
	}{
		{
			name:         "all delivered",
			batch:        stmts(0, 5),
			want:         []outcome{delivered, delivered, delivered, delivered, delivered},
			wantStored:   []string{stmtID(0), stmtID(1), stmtID(2), stmtID(3), stmtID(4)},
			wantStatuses: map[int]int{200: 1},
		},
		{
			name:         "split by max_batch",
			cfg:          map[string]any{KeyMaxBatch: float64(2)},
			batch:        stmts(0, 5),
			want:         []outcome{delivered, delivered, delivered, delivered, delivered},
			wantStored:   []string{stmtID(0), stmtID(1), stmtID(2), stmtID(3), stmtID(4)},
			wantStatuses: map[int]int{200: 3},
		},
		{
			name:       "whole-batch 400 is bisected to the bad statements",
			batch:      []sdk.Statement{stmt(0), stmt(1), badStmt(2), stmt(3), stmt(4), badStmt(5), stmt(6), stmt(7)},
			want:       []outcome{delivered, delivered, permanent, delivered, delivered, permanent, delivered, delivered},
			wantStored: []string{stmtID(0), stmtID(1), stmtID(3), stmtID(4), stmtID(6), stmtID(7)},
			// [0..7] 400; [0..3] 400; [0,1] 200; [2,3] 400; [2] 400; [3] 200;
			// [4..7] 400; [4,5] 400; [4] 200; [5] 400; [6,7] 200.
			wantStatuses: map[int]int{400: 7, 200: 4},
		},
		{
			name:         "single bad statement",
			batch:        []sdk.Statement{badStmt(0)},
			want:         []outcome{permanent},
			wantStatuses: map[int]int{400: 1},
		},
		{
			name:         "duplicate ids are sent once",
			batch:        []sdk.Statement{stmt(0), stmt(1), stmt(0), stmt(2), stmt(1)},
			want:         []outcome{delivered, delivered, delivered, delivered, delivered},
			wantStored:   []string{stmtID(0), stmtID(1), stmtID(2)},
			wantStatuses: map[int]int{200: 1},
		},
		{
			name:         "duplicate of a bad statement shares its verdict",
			batch:        []sdk.Statement{badStmt(0), stmt(1), badStmt(0)},
			want:         []outcome{permanent, delivered, permanent},
			wantStored:   []string{stmtID(1)},
			wantStatuses: map[int]int{400: 2, 200: 1},
		},
		{
			name: "409 on a single statement is already stored",
			setup: func(t *testing.T, _ *lrstest.LRS, s *Sink) {
				mustDeliver(t, s, differing)
			},
			batch:        []sdk.Statement{stmt(1)},
			want:         []outcome{alreadyStored},
			wantStored:   []string{stmtID(1)},
			wantStatuses: map[int]int{200: 1, 409: 1},
		},
		{
			name: "409 in a batch is isolated",
			setup: func(t *testing.T, _ *lrstest.LRS, s *Sink) {
				mustDeliver(t, s, differing)
			},
			batch:      stmts(0, 4),
			want:       []outcome{delivered, alreadyStored, delivered, delivered},
			wantStored: []string{stmtID(1), stmtID(0), stmtID(2), stmtID(3)},
			// setup 200; [0..3] 409; [0,1] 409; [0] 200; [1] 409; [2,3] 200.
			wantStatuses: map[int]int{200: 3, 409: 3},
		},
		{
			name: "identical resend is accepted",
			setup: func(t *testing.T, _ *lrstest.LRS, s *Sink) {
				mustDeliver(t, s, stmt(1))
			},
			batch:        stmts(0, 3),
			want:         []outcome{delivered, delivered, delivered},
			wantStored:   []string{stmtID(1), stmtID(0), stmtID(2)},
			wantStatuses: map[int]int{200: 2},
		},
		{
			name: "identical resend to a conflict-answering LRS",
			opts: lrstest.Options{Resend: lrstest.ResendConflict},
			setup: func(t *testing.T, _ *lrstest.LRS, s *Sink) {
				mustDeliver(t, s, stmt(0))
			},
			batch:        []sdk.Statement{stmt(0)},
			want:         []outcome{alreadyStored},
			wantStored:   []string{stmtID(0)},
			wantStatuses: map[int]int{200: 1, 409: 1},
		},
		{
			name:       "413 above a body size splits and resends",
			opts:       lrstest.Options{MaxBodyBytes: 1200},
			batch:      stmts(0, 8),
			want:       []outcome{delivered, delivered, delivered, delivered, delivered, delivered, delivered, delivered},
			wantStored: []string{stmtID(0), stmtID(1), stmtID(2), stmtID(3), stmtID(4), stmtID(5), stmtID(6), stmtID(7)},
			// About 330 bytes a statement: 8 (413), 4 (413), then the
			// learned size allows 3.
			wantStatuses: map[int]int{413: 2, 200: 4},
		},
		{
			name:         "413 above a statement count",
			opts:         lrstest.Options{MaxStatements: 3},
			batch:        stmts(0, 6),
			want:         []outcome{delivered, delivered, delivered, delivered, delivered, delivered},
			wantStored:   []string{stmtID(0), stmtID(1), stmtID(2), stmtID(3), stmtID(4), stmtID(5)},
			wantStatuses: map[int]int{413: 1, 200: 2},
		},
		{
			name:         "413 on a single statement is permanent",
			opts:         lrstest.Options{MaxBodyBytes: 100},
			batch:        stmts(0, 1),
			want:         []outcome{permanent},
			wantStatuses: map[int]int{413: 1},
		},
		{
			name: "429 with Retry-After seconds",
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7"})
			},
			batch: stmts(0, 2),
			wantErr: func(err error) bool {
				d, ok := sdk.RetryDelay(err)
				return ok && d == 7*time.Second && sdk.ClassOf(err) == sdk.ClassRetryable
			},
			wantStatuses: map[int]int{429: 1},
		},
		{
			name: "503 with Retry-After date",
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)})
			},
			batch: stmts(0, 2),
			wantErr: func(err error) bool {
				d, ok := sdk.RetryDelay(err)
				return ok && d > 55*time.Second && d <= time.Minute
			},
			wantStatuses: map[int]int{503: 1},
		},
		{
			name: "503 without Retry-After is plain retryable",
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusServiceUnavailable})
			},
			batch: stmts(0, 2),
			wantErr: func(err error) bool {
				var se *StatusError
				_, hasDelay := sdk.RetryDelay(err)
				return errors.As(err, &se) && se.StatusCode == 503 && !hasDelay && sdk.ClassOf(err) == sdk.ClassRetryable
			},
			wantStatuses: map[int]int{503: 1},
		},
		{
			name: "500 is retryable",
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusInternalServerError})
			},
			batch: stmts(0, 2),
			wantErr: func(err error) bool {
				var se *StatusError
				return errors.As(err, &se) && se.StatusCode == 500 && sdk.ClassOf(err) == sdk.ClassRetryable
			},
			wantStatuses: map[int]int{500: 1},
		},
		{
			name:         "401 is unauthenticated",
			cfg:          map[string]any{KeySecret: "wrong"},
			batch:        stmts(0, 2),
			wantErr:      func(err error) bool { return sdk.ClassOf(err) == sdk.ClassUnauthenticated },
			wantStatuses: map[int]int{401: 1},
		},
		{
			name:         "403 is forbidden",
			opts:         lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret, Access: lrstest.ReadOnly}}},
			batch:        stmts(0, 2),
			wantErr:      func(err error) bool { return sdk.ClassOf(err) == sdk.ClassForbidden },
			wantStatuses: map[int]int{403: 1},
		},
		{
			name: "unacknowledged batch then 503 is a whole-batch error",
			cfg:  map[string]any{KeyMaxBatch: float64(2)},
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusOK}) // 200 without ids
				l.Fail(lrstest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3"})
			},
			batch: stmts(0, 5),
			wantErr: func(err error) bool {
				d, ok := sdk.RetryDelay(err)
				return ok && d == 3*time.Second
			},
			wantStatuses: map[int]int{200: 1, 503: 1},
		},
		{
			name: "partial delivery then 401",
			cfg:  map[string]any{KeyMaxBatch: float64(2)},
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusOK, Body: `["` + stmtID(0) + `","` + stmtID(1) + `"]`})
				l.Fail(lrstest.Fault{Status: http.StatusUnauthorized})
			},
			batch:        stmts(0, 4),
			want:         []outcome{delivered, delivered, authFailure, authFailure},
			wantStatuses: map[int]int{200: 1, 401: 1},
		},
		{
			name: "permanent verdicts survive a later failure",
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusServiceUnavailable, Skip: 2, Resource: "statements"})
			},
			// [0..2] 400; [0] 400; [1,2] 503.
			batch:        []sdk.Statement{badStmt(0), stmt(1), stmt(2)},
			want:         []outcome{permanent, retryable, retryable},
			wantStatuses: map[int]int{400: 2, 503: 1},
		},
		{
			name: "200 with some ids missing",
			setup: func(_ *testing.T, l *lrstest.LRS, _ *Sink) {
				l.Fail(lrstest.Fault{Status: http.StatusOK, Body: `["` + strings.ToUpper(stmtID(0)) + `","` + stmtID(2) + `"]`})
			},
			batch:        stmts(0, 3),
			want:         []outcome{delivered, retryable, delivered},
			wantStatuses: map[int]int{200: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, srv := newLRS(t, tt.opts)
			cfg := baseConfig(srv.URL + "/xapi/")
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			s := newTestSink(t, cfg, loopbackPolicy)
			if tt.setup != nil {
				tt.setup(t, l, s)
			}
			resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: tt.batch})
			if tt.want == nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("Deliver() error = %v (class %v), not the expected one", err, sdk.ClassOf(err))
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Errorf("error contains the secret: %v", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Deliver() error = %v", err)
				}
				if diff := cmp.Diff(tt.want, outcomes(t, resp, len(tt.batch))); diff != "" {
					t.Errorf("verdicts (-want +got):\n%s\n%v", diff, resp.Verdicts)
				}
			}
			if diff := cmp.Diff(tt.wantStored, l.IDs(), cmpEmpty); diff != "" {
				t.Errorf("stored ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStatuses, statusCounts(l)); diff != "" {
				t.Errorf("statements request statuses (-want +got):\n%s", diff)
			}
			for _, r := range l.Requests() {
				if r.Version != "1.0.3" || r.ContentType != "application/json" || r.Key != testKey {
					t.Errorf("request %s %s: version %q, content type %q, key %q", r.Method, r.Resource, r.Version, r.ContentType, r.Key)
				}
			}
		})
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
})

func mustDeliver(t *testing.T, s *Sink, sts ...sdk.Statement) {
	t.Helper()
	resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: sts})
	if err != nil {
		t.Fatalf("Deliver() error = %v", err)
	}
	for i, v := range resp.Verdicts {
		if v.Err != nil {
			t.Fatalf("Deliver() verdict %d = %v", i, v.Err)
		}
	}
}

func TestDeliverPermanentVerdictCarriesMessage(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(0), badStmt(1)}})
	if err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if !errors.As(resp.Verdicts[1].Err, &se) || se.StatusCode != http.StatusBadRequest {
		t.Fatalf("verdict = %v, want a *StatusError with status 400", resp.Verdicts[1].Err)
	}
	// The LRS names the statement and the problem.
	if !strings.Contains(se.Message, stmtID(1)) || !strings.Contains(se.Message, "result.success") {
		t.Errorf("message = %q, want the LRS's message naming the statement and its problem", se.Message)
	}
	if l.Len() != 1 {
		t.Errorf("LRS holds %d statements, want 1", l.Len())
	}

	// A hostile message is stripped of control characters and truncated.
	l.Fail(lrstest.Fault{Status: http.StatusBadRequest, Body: "bad\x1b[31m\r\nthing\u202e" + strings.Repeat("x", 1000)})
	resp, err = s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(5)}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.As(resp.Verdicts[0].Err, &se) {
		t.Fatalf("verdict = %v, want a *StatusError", resp.Verdicts[0].Err)
	}
	if want := "bad[31m thing" + strings.Repeat("x", maxMessageRunes-len("bad[31m thing")) + "…"; se.Message != want {
		t.Errorf("message = %q, want %q", se.Message, want)
	}
}

func TestDeliverCancel(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{})
	l.SetLatency(time.Minute)
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: stmts(0, 2)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver(canceled ctx) error = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	if _, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: stmts(0, 2)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver(ctx canceled in flight) error = %v, want context.Canceled", err)
	}
}

func TestDeliverTimeout(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{})
	l.SetLatency(time.Minute)
	cfg := baseConfig(srv.URL + "/xapi/")
	cfg[KeyTimeout] = "1s"
	s := newTestSink(t, cfg, loopbackPolicy)
	_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 2)})
	var te *TimeoutError
	if !errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) || sdk.ClassOf(err) != sdk.ClassRetryable {
		t.Errorf("Deliver() error = %v, want a retryable *TimeoutError that is not context.DeadlineExceeded", err)
	}
}

func TestDeliverNetworkError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	s := newTestSink(t, baseConfig(url+"/xapi/"), loopbackPolicy)
	_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
	if err == nil || sdk.ClassOf(err) != sdk.ClassRetryable {
		t.Errorf("Deliver() error = %v (class %v), want a retryable error", err, sdk.ClassOf(err))
	}
}

func TestDeliverReencodesFor103(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{Versions: []string{"1.0.3"}})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	if got := s.XAPIVersion(); got != "1.0.3" {
		t.Errorf("XAPIVersion() = %q, want 1.0.3", got)
	}
	v2 := stmt(0)
	v2.JSON = []byte(strings.Replace(string(v2.JSON), `"timestamp"`,
		`"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"objectType":"Agent","mbox":"mailto:coach@example.com"}}]},"timestamp"`, 1))
	versioned := stmt(1)
	versioned.JSON = []byte(strings.Replace(string(versioned.JSON), `"timestamp"`, `"version":"2.0.0","timestamp"`, 1))
	mustDeliver(t, s, v2, versioned)
	for _, id := range []string{stmtID(0), stmtID(1)} {
		got, ok := l.Statement(id)
		if !ok {
			t.Fatalf("statement %s not stored", id)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil || m["actor"] == nil {
			t.Fatalf("stored statement %s is not the re-encoded statement", got)
		}
		// The LRS sets version 1.0.0 on statements that have none.
		if strings.Contains(string(got), "contextAgents") || string(m["version"]) != `"1.0.0"` {
			t.Errorf("stored statement %s carries 2.0-only properties", got)
		}
	}
}

func TestDeliverLearnsSizeLimit(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{MaxBodyBytes: 1200})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	mustDeliver(t, s, stmts(0, 8)...)
	l.ResetRequests()
	mustDeliver(t, s, stmts(8, 16)...)
	if diff := cmp.Diff(map[int]int{200: 3}, statusCounts(l)); diff != "" {
		t.Errorf("statuses after learning (-want +got):\n%s", diff)
	}
}

func TestDeliverAfterClose(t *testing.T) {
	t.Parallel()
	_, srv := newLRS(t, lrstest.Options{})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	for range 2 {
		if err := s.Close(context.Background()); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	if _, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Deliver() after Close error = %v, want ErrClosed", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"1e3", 0, false},
		{"99999999999", maxRetryAfter, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Fri, 02 Jan 2026 03:04:35 GMT", 30 * time.Second, true},
		{"Friday, 02-Jan-26 03:04:35 GMT", 30 * time.Second, true},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		d, ok := parseRetryAfter(tt.in, now)
		if diff := cmp.Diff([2]any{tt.want, tt.wantOK}, [2]any{d, ok}); diff != "" {
			t.Errorf("parseRetryAfter(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestDeliverReusesConnections checks that answers of every kind are read
// and closed so that one connection serves all requests.
func TestDeliverReusesConnections(t *testing.T) {
	t.Parallel()
	l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret}}})
	srv := httptest.NewUnstartedServer(l)
	var mu sync.Mutex
	conns := 0
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	l.Fail(lrstest.Fault{Status: http.StatusServiceUnavailable, Body: strings.Repeat("busy ", 10000)})
	l.Fail(lrstest.Fault{Status: http.StatusInternalServerError})
	for i := range 6 {
		// Two failures, then a batch with a bad statement (bisected), then
		// plain deliveries.
		_, _ = s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(2 * i), badStmt(2*i + 1)}})
	}
	if l.Len() != 4 {
		t.Errorf("LRS holds %d statements, want 4", l.Len())
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("the sink opened %d connections, want 1", conns)
	}
}

// TestDeliverBoundsResponses checks that huge answers are cut.
func TestDeliverBoundsResponses(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 2*maxResponseBytes)
	tests := []struct {
		name   string
		status int
		check  func(t *testing.T, v sdk.Verdict)
	}{
		{name: "huge error message", status: http.StatusBadRequest, check: func(t *testing.T, v sdk.Verdict) {
			var se *StatusError
			if !errors.As(v.Err, &se) || !sdk.IsPermanent(v.Err) || len([]rune(se.Message)) != maxMessageRunes+1 {
				t.Errorf("verdict = %.100v, want a permanent *StatusError with a truncated message", v.Err)
			}
		}},
		{name: "huge success", status: http.StatusOK, check: func(t *testing.T, v sdk.Verdict) {
			if !errors.Is(v.Err, ErrNotAcknowledged) {
				t.Errorf("verdict = %.100v, want ErrNotAcknowledged", v.Err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, srv := newLRS(t, lrstest.Options{})
			l.Fail(lrstest.Fault{Status: tt.status, Body: huge})
			s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
			resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
			if err != nil {
				t.Fatalf("Deliver() error = %.100v", err)
			}
			tt.check(t, resp.Verdicts[0])
		})
	}
}

// TestDeliverRequestLevel400IsNotDeadLettered: an LRS that answers 400 to
// every request (here: to reads too) has a problem with the request, not
// with the statements; the batch is retried instead of being rejected
// statement by statement.
func TestDeliverRequestLevel400IsNotDeadLettered(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{})
	l.Fail(lrstest.Fault{Status: http.StatusBadRequest, Resource: "statements", Body: `{"message":"unsupported X-Experience-API-Version"}`, Times: 1000})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 4)})
	if err == nil {
		t.Fatalf("Deliver = %+v, nil error; want a whole-batch retryable error", resp)
	}
	if c := sdk.ClassOf(err); c != sdk.ClassRetryable {
		t.Errorf("error class = %v (%v), want retryable", c, err)
	}
	if !strings.Contains(err.Error(), "refuses every request") {
		t.Errorf("error %q does not explain the request-level refusal", err)
	}
}

// TestDeliverAllInvalidStatementsStayRejected: when only the statements are
// at fault, the probe read succeeds and every statement keeps its
// permanent verdict.
func TestDeliverAllInvalidStatementsStayRejected(t *testing.T) {
	t.Parallel()
	_, srv := newLRS(t, lrstest.Options{})
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{badStmt(1), badStmt(2)}})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	for i, v := range resp.Verdicts {
		if !sdk.IsPermanent(v.Err) {
			t.Errorf("verdict %d = %+v, want permanent", i, v)
		}
	}
}

// TestDeliverUsesTheHostsVersionMark: a statement the host marked as
// encoded for the LRS's version (sdk.Statement.EncodedFor) is sent as given,
// without the sink's own scan; one unmarked (an older host) or marked for
// another version is checked, and re-encoded for 1.0.3 where needed.
func TestDeliverUsesTheHostsVersionMark(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	echo := minimalLRS()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		echo.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	for i, tc := range []struct {
		name       string
		encodedFor xapi.Version
		wantAsIs   bool
	}{
		{"unmarked", "", false},
		{"marked for 2.0.0", xapi.V200, false},
		{"marked for 1.0.3", xapi.V103, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := stmt(i)
			st.JSON = []byte(strings.Replace(string(st.JSON), `"timestamp"`,
				`"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"objectType":"Agent","mbox":"mailto:coach@example.com"}}]},"timestamp"`, 1))
			st.EncodedFor = tc.encodedFor
			mu.Lock()
			bodies = nil
			mu.Unlock()
			mustDeliver(t, s, st)
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != 1 {
				t.Fatalf("%d requests; want 1", len(bodies))
			}
			if asIs := bodies[0] == "["+string(st.JSON)+"]"; asIs != tc.wantAsIs {
				t.Errorf("sent %s; as given: %v, want %v", bodies[0], asIs, tc.wantAsIs)
			}
		})
	}
}
