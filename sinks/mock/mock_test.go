package mock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/mock"
)

func ptr(s string) *string { return &s }

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         map[string]any
		want       mock.Config
		wantFields []string
	}{
		{name: "empty", in: nil, want: mock.Config{XAPIVersion: xapi.V200}},
		{
			name: "everything",
			in: map[string]any{
				"record_file": "/tmp/rec.ndjson", "fail_first": float64(2), "retry_after": "1.5s",
				"latency": float64(0.25), "auth_fail": "forbidden", "crash_on_batch": float64(3), "xapi_version": "1.0.3",
				"reject": []any{
					map[string]any{"verb": "http://example.com/verbs/bad", "message": "bad verb"},
					map[string]any{"id": "00000000-0000-4000-8000-000000000001"},
					map[string]any{"path": "result.score.scaled", "equals": "0.5"},
					map[string]any{"contains": "forbidden word"},
				},
			},
			want: mock.Config{
				RecordFile: "/tmp/rec.ndjson", FailFirst: 2, RetryAfter: 1500 * time.Millisecond,
				Latency: 250 * time.Millisecond, AuthFail: mock.AuthForbidden, CrashOnBatch: 3, XAPIVersion: xapi.V103,
				Reject: []mock.Rule{
					{Path: "verb.id", Equals: ptr("http://example.com/verbs/bad"), Message: "bad verb"},
					{Path: "id", Equals: ptr("00000000-0000-4000-8000-000000000001"), Message: "statement rejected by rule 1"},
					{Path: "result.score.scaled", Equals: ptr("0.5"), Message: "statement rejected by rule 2"},
					{Contains: "forbidden word", Message: "statement rejected by rule 3"},
				},
			},
		},
		{
			name: "wrong types and unknown keys",
			in: map[string]any{
				"record_file": 1.0, "fail_first": 1.5, "retry_after": "soon", "latency": true,
				"auth_fail": 401.0, "crash_on_batch": "three", "xapi_version": 2.0, "reject": "x", "colour": "red",
			},
			// Unknown keys first, then the fields in their order.
			wantFields: []string{"colour", "record_file", "fail_first", "retry_after", "reject", "auth_fail", "latency", "crash_on_batch", "xapi_version"},
		},
		{
			name: "invalid values",
			in: map[string]any{
				"record_file": "relative.ndjson", "fail_first": float64(-1), "auth_fail": "expired",
				"latency": "-1s", "crash_on_batch": float64(-2), "xapi_version": "1.0.0",
			},
			wantFields: []string{"record_file", "fail_first", "auth_fail", "latency", "crash_on_batch", "xapi_version"},
		},
		{
			name:       "retry_after without fail_first",
			in:         map[string]any{"retry_after": "2s"},
			wantFields: []string{"retry_after"},
		},
		{
			name: "bad rules",
			in: map[string]any{"reject": []any{
				"verb",
				map[string]any{"equals": "x"},
				map[string]any{"path": "verb.id"},
				map[string]any{"path": "verb.id", "equals": "x", "contains": "y"},
				map[string]any{"path": "verb..id", "equals": "x"},
				map[string]any{"verb": "x", "id": "y"},
				map[string]any{"verb": "x", "colour": "y"},
				map[string]any{"path": "object[x]", "equals": "x"},
			}},
			wantFields: []string{"reject[0]", "reject[1]", "reject[2]", "reject[3]", "reject[4]", "reject[5]", "reject[6]", "reject[7]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mock.ParseConfig(tt.in)
			var ce *sdk.ConfigError
			if tt.wantFields != nil {
				if !errors.As(err, &ce) {
					t.Fatalf("ParseConfig error = %v, want *sdk.ConfigError", err)
				}
				var fields []string
				for _, f := range ce.Fields {
					fields = append(fields, f.Field)
				}
				if diff := cmp.Diff(tt.wantFields, fields, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
					t.Errorf("fields with errors (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(mock.Rule{})); diff != "" {
				t.Errorf("ParseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

// stmt returns statement n with the given verb and a score.
func stmt(n int, verb string, scaled float64) sdk.Statement {
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	return sdk.Statement{ID: id, JSON: fmt.Appendf(nil,
		`{"id":"%s","actor":{"objectType":"Agent","mbox":"mailto:learner@example.com"},"verb":{"id":"%s"},`+
			`"object":{"objectType":"Activity","id":"https://example.com/a","definition":{"name":{"en-US":"Intro to Go"}}},`+
			`"result":{"score":{"scaled":%v}},"context":{"extensions":{"https://example.com/ext.v1":{"level":3}}}}`, id, verb, scaled)}
}

const (
	completed = "http://adlnet.gov/expapi/verbs/completed"
	failed    = "http://adlnet.gov/expapi/verbs/failed"
)

// outcome summarises a statement's result.
func outcomes(n int, resp sdk.DeliverResponse, err error) []string {
	out := make([]string, n)
	for i := range out {
		switch {
		case err != nil:
			out[i] = "batch " + sdk.ClassOf(err).String()
			if d, ok := sdk.RetryDelay(err); ok {
				out[i] += " after " + d.String()
			}
		case resp.Verdicts == nil || resp.Verdicts[i].Err == nil:
			out[i] = "delivered"
		default:
			out[i] = sdk.ClassOf(resp.Verdicts[i].Err).String() + ": " + resp.Verdicts[i].Err.Error()
		}
	}
	return out
}

func TestDeliverScript(t *testing.T) {
	t.Parallel()
	batch := []sdk.Statement{stmt(1, completed, 0.5), stmt(2, failed, 0.25), stmt(3, completed, 1)}
	all := func(s string) []string { return []string{s, s, s} }
	tests := []struct {
		name string
		cfg  map[string]any
		// want lists the outcomes of three deliveries of batch.
		want [][]string
		// wantRecorded is the number of statements recorded in the end.
		wantRecorded int
	}{
		{
			name:         "deliver",
			want:         [][]string{all("delivered"), all("delivered"), all("delivered")},
			wantRecorded: 9,
		},
		{
			name:         "fail first two",
			cfg:          map[string]any{"fail_first": 2.0},
			want:         [][]string{all("batch retryable"), all("batch retryable"), all("delivered")},
			wantRecorded: 3,
		},
		{
			name:         "fail first with retry after",
			cfg:          map[string]any{"fail_first": 1.0, "retry_after": "3s"},
			want:         [][]string{all("batch retryable after 3s"), all("delivered"), all("delivered")},
			wantRecorded: 6,
		},
		{
			name:         "unauthenticated",
			cfg:          map[string]any{"auth_fail": "unauthenticated"},
			want:         [][]string{all("batch unauthenticated"), all("batch unauthenticated"), all("batch unauthenticated")},
			wantRecorded: 0,
		},
		{
			name:         "forbidden",
			cfg:          map[string]any{"auth_fail": "forbidden"},
			want:         [][]string{all("batch forbidden"), all("batch forbidden"), all("batch forbidden")},
			wantRecorded: 0,
		},
		{
			name: "reject rules",
			cfg: map[string]any{"reject": []any{
				map[string]any{"verb": failed, "message": "failing is not allowed"},
				map[string]any{"path": "result.score.scaled", "equals": "1"},
			}},
			want: [][]string{
				{"delivered", "permanent: failing is not allowed", "permanent: statement rejected by rule 1"},
				{"delivered", "permanent: failing is not allowed", "permanent: statement rejected by rule 1"},
				{"delivered", "permanent: failing is not allowed", "permanent: statement rejected by rule 1"},
			},
			wantRecorded: 3,
		},
		{
			name: "reject by bracketed path and substring",
			cfg: map[string]any{"reject": []any{
				map[string]any{"path": `object.definition.name["en-US"]`, "contains": "Go", "message": "no go"},
			}},
			want:         [][]string{all("permanent: no go"), all("permanent: no go"), all("permanent: no go")},
			wantRecorded: 0,
		},
		{
			name: "reject by extension and raw substring",
			cfg: map[string]any{"reject": []any{
				map[string]any{"path": `context.extensions["https://example.com/ext.v1"].level`, "equals": "4", "message": "level 4"},
				map[string]any{"contains": `"scaled":0.25`, "message": "quarter"},
			}},
			want: [][]string{
				{"delivered", "permanent: quarter", "delivered"},
				{"delivered", "permanent: quarter", "delivered"},
				{"delivered", "permanent: quarter", "delivered"},
			},
			wantRecorded: 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := filepath.Join(t.TempDir(), "rec.ndjson")
			cfg := map[string]any{"record_file": rec}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			s, err := mock.NewProvider().Configure(context.Background(), sdk.ConfigureRequest{Instance: "t/1", Org: "acme", Config: cfg})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			defer s.Close(context.Background())
			var got [][]string
			for range tt.want {
				resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: batch})
				got = append(got, outcomes(len(batch), resp, err))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			data, err := os.ReadFile(rec)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(data), "\n"); n != tt.wantRecorded {
				t.Errorf("recorded %d statements, want %d", n, tt.wantRecorded)
			}
		})
	}
}

func TestRejectedError(t *testing.T) {
	t.Parallel()
	s, err := mock.New(mock.Config{XAPIVersion: xapi.V200, Reject: []mock.Rule{{Contains: "failed", Message: "no"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(1, failed, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	var re *mock.RejectedError
	if len(resp.Verdicts) != 1 || !errors.As(resp.Verdicts[0].Err, &re) || !sdk.IsPermanent(resp.Verdicts[0].Err) {
		t.Fatalf("verdicts = %+v, want one permanent *RejectedError", resp.Verdicts)
	}
	if diff := cmp.Diff(&mock.RejectedError{Rule: 0, Message: "no"}, re); diff != "" {
		t.Errorf("RejectedError (-want +got):\n%s", diff)
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	t.Parallel()
	s, err := mock.New(mock.Config{XAPIVersion: xapi.V200, Latency: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Deliver(ctx, sdk.DeliverRequest{Statements: []sdk.Statement{stmt(1, completed, 0)}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Deliver = %v, want context.DeadlineExceeded", err)
	}
}

func TestCrashOnBatch(t *testing.T) {
	t.Parallel()
	t.Run("refused without WithCrash", func(t *testing.T) {
		t.Parallel()
		_, err := mock.New(mock.Config{XAPIVersion: xapi.V200, CrashOnBatch: 1})
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || len(ce.Fields) != 1 || ce.Fields[0].Field != "crash_on_batch" {
			t.Errorf("New = %v, want a crash_on_batch field error", err)
		}
	})
	for _, record := range []bool{false, true} {
		t.Run(fmt.Sprintf("record=%v", record), func(t *testing.T) {
			t.Parallel()
			cfg := mock.Config{XAPIVersion: xapi.V200, CrashOnBatch: 2}
			if record {
				cfg.RecordFile = filepath.Join(t.TempDir(), "rec.ndjson")
			}
			var crashes []int
			// Two "processes" in a row: with a recording the second does
			// not crash again.
			for proc := range 2 {
				s, err := mock.New(cfg, mock.WithCrash(func() { crashes = append(crashes, proc) }))
				if err != nil {
					t.Fatal(err)
				}
				for range 3 {
					if _, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(1, completed, 0)}}); err != nil {
						t.Fatal(err)
					}
				}
				s.Close(context.Background())
			}
			want := []int{0, 1}
			if record {
				want = []int{0}
			}
			if diff := cmp.Diff(want, crashes); diff != "" {
				t.Errorf("crashes in processes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTestConnection(t *testing.T) {
	t.Parallel()
	type step struct {
		Name   string
		Status sdk.StepStatus
	}
	tests := []struct {
		name string
		cfg  mock.Config
		want []step
		ok   bool
	}{
		{
			name: "plain",
			cfg:  mock.Config{XAPIVersion: xapi.V103},
			want: []step{{"record", sdk.StepSkipped}, {"about", sdk.StepPassed}, {"auth", sdk.StepPassed}, {"script", sdk.StepPassed}},
			ok:   true,
		},
		{
			name: "auth fails",
			cfg:  mock.Config{XAPIVersion: xapi.V200, AuthFail: mock.AuthForbidden},
			want: []step{{"record", sdk.StepSkipped}, {"about", sdk.StepPassed}, {"auth", sdk.StepFailed}, {"script", sdk.StepPassed}},
		},
		{
			name: "scripted failures warn",
			cfg:  mock.Config{XAPIVersion: xapi.V200, FailFirst: 2, RetryAfter: time.Second},
			want: []step{{"record", sdk.StepSkipped}, {"about", sdk.StepPassed}, {"auth", sdk.StepPassed}, {"script", sdk.StepWarning}},
			ok:   true,
		},
		{
			name: "recording",
			cfg:  mock.Config{XAPIVersion: xapi.V200, RecordFile: "REC"},
			want: []step{{"record", sdk.StepPassed}, {"about", sdk.StepPassed}, {"auth", sdk.StepPassed}, {"script", sdk.StepPassed}},
			ok:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.cfg.RecordFile == "REC" {
				tt.cfg.RecordFile = filepath.Join(t.TempDir(), "rec.ndjson")
			}
			s, err := mock.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			if got := s.XAPIVersion(); got != tt.cfg.XAPIVersion {
				t.Errorf("XAPIVersion = %q, want %q", got, tt.cfg.XAPIVersion)
			}
			r, err := s.TestConnection(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []step
			for _, st := range r.Steps {
				got = append(got, step{st.Name, st.Status})
				if st.Message == "" || st.Title == "" {
					t.Errorf("step %s has no title or message", st.Name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if r.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v", r.OK(), tt.ok)
			}
		})
	}
}

func TestSharedRecordFile(t *testing.T) {
	t.Parallel()
	rec := filepath.Join(t.TempDir(), "rec.ndjson")
	a, err := mock.New(mock.Config{XAPIVersion: xapi.V200, RecordFile: rec})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mock.New(mock.Config{XAPIVersion: xapi.V200, RecordFile: rec})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			a.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(i, completed, 0)}})
		}
	}()
	for i := range 50 {
		b.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(100+i, failed, 0)}})
	}
	<-done
	// Closing one instance keeps the file open for the other.
	a.Close(context.Background())
	if _, err := b.Deliver(context.Background(), sdk.DeliverRequest{Statements: []sdk.Statement{stmt(200, completed, 0)}}); err != nil {
		t.Fatal(err)
	}
	b.Close(context.Background())
	if _, err := b.Deliver(context.Background(), sdk.DeliverRequest{}); !errors.Is(err, mock.ErrClosed) {
		t.Errorf("Deliver after Close = %v, want ErrClosed", err)
	}
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 101 {
		t.Errorf("recorded %d lines, want 101", len(lines))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"id":"`) || !strings.HasSuffix(l, "}}}") {
			t.Errorf("line %d is mangled: %q", i+1, l)
		}
	}
}

// TestConformance runs the sdk conformance kit against the mock: every
// behaviour the kit knows is one the mock can be scripted into.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Provider: mock.NewProvider(),
		Config: func(t testing.TB, s sinktest.Scenario) map[string]any {
			cfg := map[string]any{"record_file": filepath.Join(t.TempDir(), "rec.ndjson")}
			switch s.Behavior {
			case sinktest.Deliver:
			case sinktest.Reject:
				var rules []any
				for _, id := range s.Reject {
					rules = append(rules, map[string]any{"id": id, "message": "statement " + id + " is invalid"})
				}
				cfg["reject"] = rules
			case sinktest.FailRetryable:
				cfg["fail_first"] = float64(1000)
			case sinktest.FailRetryAfter:
				cfg["fail_first"] = float64(1000)
				cfg["retry_after"] = s.RetryAfter.String()
			case sinktest.FailUnauthenticated:
				cfg["auth_fail"] = "unauthenticated"
			case sinktest.FailForbidden:
				cfg["auth_fail"] = "forbidden"
			case sinktest.Stall:
				cfg["latency"] = "1h"
			case sinktest.InvalidConfig:
				cfg["auth_fail"] = "sometimes"
			default:
				return nil
			}
			return cfg
		},
	})
}
