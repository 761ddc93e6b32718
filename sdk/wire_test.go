package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// summary is what the host can learn about an error, for comparison.
type summary struct {
	Class    string
	Delay    time.Duration
	HasDelay bool
	Fields   []FieldError
	Unknown  bool
	Panicked bool
	Canceled bool
	Message  string
}

func summarize(err error) summary {
	s := summary{Class: ClassOf(err).String(), Message: err.Error()}
	s.Delay, s.HasDelay = RetryDelay(err)
	var cfg *ConfigError
	if errors.As(err, &cfg) {
		s.Fields = cfg.Fields
	}
	s.Unknown = errors.Is(err, ErrUnknownInstance)
	s.Panicked = errors.Is(err, ErrSinkPanicked)
	s.Canceled = errors.Is(err, context.Canceled)
	return s
}

func TestErrorStatusRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		err  error
		// want is the summary after the round trip; Message is filled in
		// from err.
		want summary
		// ok is whether the status is recognised as the plugin's own.
		ok bool
	}{
		{"unclassified", errors.New("boom"), summary{Class: "retryable"}, true},
		{"permanent", Permanent(errors.New("lrs said 400: bad verb")), summary{Class: "permanent"}, true},
		{"retry after", fmt.Errorf("deliver: %w", RetryAfter(errors.New("429"), 1500*time.Millisecond)), summary{Class: "retryable", Delay: 1500 * time.Millisecond, HasDelay: true}, true},
		{"unauthenticated", Unauthenticated(errors.New("401")), summary{Class: "unauthenticated"}, true},
		{"forbidden", Forbidden(errors.New("403")), summary{Class: "forbidden"}, true},
		{"config", &ConfigError{Fields: []FieldError{{"url", "is required"}, {"token", "too short"}}}, summary{Class: "permanent", Fields: []FieldError{{"url", "is required"}, {"token", "too short"}}}, true},
		{"unknown instance", fmt.Errorf("instance %q: %w", "a/b", ErrUnknownInstance), summary{Class: "retryable", Unknown: true}, true},
		{"panic", fmt.Errorf("deliver: %w: oops", ErrSinkPanicked), summary{Class: "retryable", Panicked: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := errorFromStatus(errorToStatus(tt.err))
			if ok != tt.ok {
				t.Fatalf("errorFromStatus ok = %v; want %v", ok, tt.ok)
			}
			want := tt.want
			want.Message = tt.err.Error()
			if diff := cmp.Diff(want, summarize(got)); diff != "" {
				t.Errorf("round trip of %v mismatch (-want +got):\n%s", tt.err, diff)
			}
		})
	}
}

func TestVerdictsRoundTrip(t *testing.T) {
	in := []Verdict{
		{},
		{AlreadyStored: true},
		{Err: Permanent(errors.New("bad statement"))},
		{Err: RetryAfter(errors.New("later"), 2*time.Second)},
		{Err: errors.New("flaky")},
		{Err: Forbidden(errors.New("no"))},
	}
	got := verdictsFromProto(verdictsToProto(in))
	var want, have []summary
	for i := range in {
		if (in[i].Err == nil) != (got[i].Err == nil) || in[i].AlreadyStored != got[i].AlreadyStored {
			t.Errorf("verdict %d: got %+v; want %+v", i, got[i], in[i])
			continue
		}
		if in[i].Err != nil {
			want = append(want, summarize(in[i].Err))
			have = append(have, summarize(got[i].Err))
		}
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("verdict errors mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigureRoundTrip(t *testing.T) {
	in := ConfigureRequest{
		Instance: "acme/lrs-1", Org: "acme", Label: "Main LRS",
		Config: map[string]any{"endpoint": "https://lrs.example.com", "batch": 50.0, "tls": map[string]any{"verify": true}, "tags": []any{"a", nil}},
	}
	in.Egress.AllowHTTP = true
	pb, err := configureToProto(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := configureFromProto(pb)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got, cmp.Comparer(func(a, b EgressPolicy) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
		t.Errorf("configure request round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewLogHandler(&buf, &slog.HandlerOptions{Level: levelTrace}))
	l.Log(context.Background(), levelTrace, "tracing", "k", 1)
	l.Warn("careful", "instance", "acme/1")
	var got []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		ts, _ := m["@timestamp"].(string)
		if _, err := time.Parse(timestampLayout, ts); err != nil {
			t.Errorf("@timestamp %q does not parse as the host expects: %v", ts, err)
		}
		delete(m, "@timestamp")
		got = append(got, m)
	}
	want := []map[string]any{
		{"@level": "trace", "@message": "tracing", "k": 1.0},
		{"@level": "warn", "@message": "careful", "instance": "acme/1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}
