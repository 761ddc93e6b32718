package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk"
)

func snapshots(s ...telemetry.IntegrationSnapshot) func() iter.Seq[telemetry.IntegrationSnapshot] {
	return func() iter.Seq[telemetry.IntegrationSnapshot] { return slices.Values(s) }
}

// TestEveryInstrumentMoves plays a scenario through every method and checks
// every data point with its attribute set: records, a delivered batch with
// one statement already stored, an outage with retries, a 400 with dead
// letters, an expiry, a refused event, a plugin restarted after a crash and
// the gauges of an integration whose breaker is open.
func TestEveryInstrumentMoves(t *testing.T) {
	e := newEnv(t, telemetry.Attributes{Mode: telemetry.ModeAll})
	ctx := context.Background()
	in := e.tel.Integration("acme", "acme/lrs-1", "lrs")

	_, rec := e.tel.StartRecord(ctx, "acme", "lesson_completed")
	in.Recorded(3)
	rec.End(3, nil)

	_, b := in.StartBatch(ctx, 3, []trace.SpanContext{rec.SpanContext()})
	in.Delivered(ctx, 3, 1)
	b.End(nil, telemetry.BatchResult{Delivered: 3, AlreadyStored: 1})

	_, b = in.StartBatch(ctx, 2, nil)
	outage := sdk.RetryAfter(errors.New("503 from the lrs"), time.Second)
	in.Retried(ctx, 2, outage)
	b.End(outage, telemetry.BatchResult{Retried: 2})
	in.Retried(ctx, 2, fmt.Errorf("deliver: %w", gobreaker.ErrOpenState))

	_, b = in.StartBatch(ctx, 1, nil)
	in.DeadLettered(ctx, 1, telemetry.DeadLetterRejected)
	b.End(nil, telemetry.BatchResult{DeadLettered: 1})
	in.DeadLettered(ctx, 2, telemetry.DeadLetterExpired)

	e.tel.EventRefused(ctx, "acme", "quiz_answered", "invalid_event")
	e.tel.PluginStarted(ctx, "lrs", "", false)
	e.tel.PluginExited(ctx, "lrs", "", telemetry.ExitCrash)
	e.tel.PluginStarted(ctx, "lrs", "", true)

	unregister, err := e.tel.ObserveIntegrations(snapshots(telemetry.IntegrationSnapshot{
		Org: "acme", Integration: "acme/lrs-1", Sink: "lrs",
		QueueDepth: 4, OldestAge: 90 * time.Second, State: "breaker_open", Breaker: telemetry.BreakerOpen,
	}))
	if err != nil {
		t.Fatalf("ObserveIntegrations = %v", err)
	}
	t.Cleanup(func() { _ = unregister() })

	const in1 = "lrsbridge.integration=acme/lrs-1,lrsbridge.org=acme,lrsbridge.sink=lrs"
	want := []point{
		{Metric: "lrsbridge.breakers", Attrs: "lrsbridge.breaker.state=open," + in1, Value: 1},
		{Metric: "lrsbridge.delivery.batch.duration", Attrs: "error.type=throttled," + in1, Count: 1},
		{Metric: "lrsbridge.delivery.batch.duration", Attrs: in1, Count: 2},
		{Metric: "lrsbridge.delivery.batch.size", Attrs: in1, Value: 6, Count: 3},
		{Metric: "lrsbridge.events.refused", Attrs: "error.type=invalid_event,lrsbridge.event.kind=quiz_answered,lrsbridge.org=acme", Value: 1},
		{Metric: "lrsbridge.integrations", Attrs: "lrsbridge.integration=acme/lrs-1,lrsbridge.integration.state=breaker_open,lrsbridge.org=acme,lrsbridge.sink=lrs", Value: 1},
		{Metric: "lrsbridge.plugin.exits", Attrs: "lrsbridge.plugin=lrs,lrsbridge.plugin.exit=crash", Value: 1},
		{Metric: "lrsbridge.plugin.restarts", Attrs: "lrsbridge.plugin=lrs", Value: 1},
		{Metric: "lrsbridge.plugin.starts", Attrs: "lrsbridge.plugin=lrs", Value: 2},
		{Metric: "lrsbridge.queue.depth", Attrs: in1, Value: 4},
		{Metric: "lrsbridge.queue.oldest_age", Attrs: in1, Value: 90},
		{Metric: "lrsbridge.record.duration", Attrs: "lrsbridge.org=acme", Count: 1},
		{Metric: "lrsbridge.statements.already_stored", Attrs: in1, Value: 1},
		{Metric: "lrsbridge.statements.dead_lettered", Attrs: "lrsbridge.dead_letter.reason=expired," + in1, Value: 2},
		{Metric: "lrsbridge.statements.dead_lettered", Attrs: "lrsbridge.dead_letter.reason=rejected," + in1, Value: 1},
		{Metric: "lrsbridge.statements.delivered", Attrs: in1, Value: 3},
		{Metric: "lrsbridge.statements.recorded", Attrs: in1, Value: 3},
		{Metric: "lrsbridge.statements.retried", Attrs: "error.type=breaker_open," + in1, Value: 2},
		{Metric: "lrsbridge.statements.retried", Attrs: "error.type=throttled," + in1, Value: 2},
	}
	if diff := cmp.Diff(want, e.collect(t)); diff != "" {
		t.Errorf("data points (-want +got):\n%s", diff)
	}
}

// useEveryOrgInstrument records through every instrument that can carry an
// organization, for the organizations given.
func useEveryOrgInstrument(t *testing.T, tel *telemetry.Telemetry, orgs ...string) {
	t.Helper()
	ctx := context.Background()
	var snaps []telemetry.IntegrationSnapshot
	for _, org := range orgs {
		id := org + "/lrs"
		in := tel.Integration(org, id, "lrs")
		_, rec := tel.StartRecord(ctx, org, "")
		in.Recorded(1)
		rec.End(1, nil)
		_, b := in.StartBatch(ctx, 1, []trace.SpanContext{rec.SpanContext()})
		in.Delivered(ctx, 1, 1)
		in.Retried(ctx, 1, errors.New("connection refused"))
		in.DeadLettered(ctx, 1, telemetry.DeadLetterRejected)
		b.End(nil, telemetry.BatchResult{Delivered: 1})
		tel.EventRefused(ctx, org, "video_watched", "unknown_kind")
		tel.PluginStarted(ctx, "lrs", org, true)
		tel.PluginExited(ctx, "lrs", org, telemetry.ExitShutdown)
		snaps = append(snaps, telemetry.IntegrationSnapshot{Org: org, Integration: id, Sink: "lrs", QueueDepth: 1, State: "active", Breaker: telemetry.BreakerClosed})
	}
	unregister, err := tel.ObserveIntegrations(snapshots(snaps...))
	if err != nil {
		t.Fatalf("ObserveIntegrations = %v", err)
	}
	t.Cleanup(func() { _ = unregister() })
}

// TestAttributeModes checks which organizations metrics name in each mode:
// none when off, the allow list plus the first Limit others when limited,
// all of them otherwise; the integration attribute follows.
func TestAttributeModes(t *testing.T) {
	orgs := []string{"first", "big", "second", "third"}
	tests := []struct {
		name      string
		attrs     telemetry.Attributes
		wantOrgs  []string
		wantInteg []string
	}{
		{name: "off", attrs: telemetry.Attributes{Mode: telemetry.ModeOff}},
		{
			name:      "limited",
			attrs:     telemetry.Attributes{Mode: telemetry.ModeLimited, Limit: 1, Allow: []string{"big"}},
			wantOrgs:  []string{"_other", "big", "first"},
			wantInteg: []string{"_other", "big/lrs", "first/lrs"},
		},
		{
			name:      "default is limited to 100",
			attrs:     telemetry.Attributes{},
			wantOrgs:  []string{"big", "first", "second", "third"},
			wantInteg: []string{"big/lrs", "first/lrs", "second/lrs", "third/lrs"},
		},
		{
			name:      "all",
			attrs:     telemetry.Attributes{Mode: telemetry.ModeAll},
			wantOrgs:  []string{"big", "first", "second", "third"},
			wantInteg: []string{"big/lrs", "first/lrs", "second/lrs", "third/lrs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.attrs)
			useEveryOrgInstrument(t, e.tel, orgs...)
			points := e.collect(t)
			metrics := map[string]bool{}
			gotOrgs, gotInteg := map[string]bool{}, map[string]bool{}
			for _, p := range points {
				metrics[p.Metric] = true
				for _, kv := range strings.Split(p.Attrs, ",") {
					if v, ok := strings.CutPrefix(kv, "lrsbridge.org="); ok {
						gotOrgs[v] = true
					}
					if v, ok := strings.CutPrefix(kv, "lrsbridge.integration="); ok {
						gotInteg[v] = true
					}
				}
			}
			if len(metrics) != 16 {
				t.Errorf("%d metrics have data points, want all 16: %v", len(metrics), metrics)
			}
			if diff := cmp.Diff(tt.wantOrgs, sortedKeys(gotOrgs)); diff != "" {
				t.Errorf("organizations on metrics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantInteg, sortedKeys(gotInteg)); diff != "" {
				t.Errorf("integrations on metrics (-want +got):\n%s", diff)
			}
			// Spans are not aggregated: they always name the organization.
			for _, s := range e.spans.Ended() {
				if !hasAttr(s.Attributes(), telemetry.KeyOrg) {
					t.Errorf("span %s has no organization attribute", s.Name())
				}
			}
		})
	}
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// TestGaugesAggregateFolded checks that integrations folded into one series
// add up (queue depth, state counts) or keep the largest (oldest age)
// instead of overwriting each other.
func TestGaugesAggregateFolded(t *testing.T) {
	for _, mode := range []telemetry.Mode{telemetry.ModeOff, telemetry.ModeLimited} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, telemetry.Attributes{Mode: mode, Limit: 1})
			unregister, err := e.tel.ObserveIntegrations(snapshots(
				telemetry.IntegrationSnapshot{Org: "a", Integration: "a/1", Sink: "lrs", QueueDepth: 1, OldestAge: time.Second, State: "active", Breaker: telemetry.BreakerClosed},
				telemetry.IntegrationSnapshot{Org: "b", Integration: "b/1", Sink: "lrs", QueueDepth: 10, OldestAge: time.Minute, State: "retrying", Breaker: telemetry.BreakerOpen},
				telemetry.IntegrationSnapshot{Org: "c", Integration: "c/1", Sink: "lrs", QueueDepth: 100, OldestAge: 2 * time.Second, State: "retrying", Breaker: telemetry.BreakerOpen},
			))
			if err != nil {
				t.Fatalf("ObserveIntegrations = %v", err)
			}
			defer unregister()
			attrs := func(org string) string {
				if mode == telemetry.ModeOff {
					return "lrsbridge.sink=lrs"
				}
				return "lrsbridge.integration=" + org + ",lrsbridge.org=" + org + ",lrsbridge.sink=lrs"
			}
			with := func(extra, org string) string {
				if mode == telemetry.ModeOff {
					return extra + ",lrsbridge.sink=lrs"
				}
				s := "lrsbridge.integration=" + org + ","
				if strings.HasPrefix(extra, "lrsbridge.integration.state") {
					return s + extra + ",lrsbridge.org=" + org + ",lrsbridge.sink=lrs"
				}
				return extra + "," + s + "lrsbridge.org=" + org + ",lrsbridge.sink=lrs"
			}
			var want []point
			if mode == telemetry.ModeOff {
				want = []point{
					{Metric: "lrsbridge.breakers", Attrs: with("lrsbridge.breaker.state=closed", ""), Value: 1},
					{Metric: "lrsbridge.breakers", Attrs: with("lrsbridge.breaker.state=open", ""), Value: 2},
					{Metric: "lrsbridge.integrations", Attrs: with("lrsbridge.integration.state=active", ""), Value: 1},
					{Metric: "lrsbridge.integrations", Attrs: with("lrsbridge.integration.state=retrying", ""), Value: 2},
					{Metric: "lrsbridge.queue.depth", Attrs: attrs(""), Value: 111},
					{Metric: "lrsbridge.queue.oldest_age", Attrs: attrs(""), Value: 60},
				}
			} else {
				// "a" is the one organization the limit keeps: b and c
				// fold into _other.
				want = []point{
					{Metric: "lrsbridge.breakers", Attrs: with("lrsbridge.breaker.state=closed", "a"), Value: 1},
					{Metric: "lrsbridge.breakers", Attrs: with("lrsbridge.breaker.state=open", "_other"), Value: 2},
					{Metric: "lrsbridge.integrations", Attrs: "lrsbridge.integration=_other,lrsbridge.integration.state=retrying,lrsbridge.org=_other,lrsbridge.sink=lrs", Value: 2},
					{Metric: "lrsbridge.integrations", Attrs: "lrsbridge.integration=a,lrsbridge.integration.state=active,lrsbridge.org=a,lrsbridge.sink=lrs", Value: 1},
					{Metric: "lrsbridge.queue.depth", Attrs: attrs("_other"), Value: 110},
					{Metric: "lrsbridge.queue.depth", Attrs: attrs("a"), Value: 1},
					{Metric: "lrsbridge.queue.oldest_age", Attrs: attrs("_other"), Value: 60},
					{Metric: "lrsbridge.queue.oldest_age", Attrs: attrs("a"), Value: 1},
				}
				for i := range want {
					want[i].Attrs = strings.ReplaceAll(want[i].Attrs, "lrsbridge.integration=a,", "lrsbridge.integration=a/1,")
				}
			}
			if diff := cmp.Diff(want, e.collect(t)); diff != "" {
				t.Errorf("gauges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEventKindsCapped checks that a sender inventing event kinds cannot
// grow the series past the cap.
func TestEventKindsCapped(t *testing.T) {
	e := newEnv(t, telemetry.Attributes{Mode: telemetry.ModeOff})
	for i := range 200 {
		e.tel.EventRefused(context.Background(), "acme", fmt.Sprintf("kind-%d", i), "unknown_kind")
	}
	e.tel.EventRefused(context.Background(), "acme", strings.Repeat("k", 65), "unknown_kind")
	points := e.collect(t)
	var other float64
	for _, p := range points {
		if strings.Contains(p.Attrs, "lrsbridge.event.kind=_other") {
			other = p.Value
		}
	}
	if len(points) != 65 || other != 137 {
		t.Errorf("%d series with %v events of kind _other; want 65 series (64 kinds and _other) and 137", len(points), other)
	}
}

func TestAttributesValidate(t *testing.T) {
	tests := []struct {
		name  string
		attrs telemetry.Attributes
		ok    bool
	}{
		{name: "zero", ok: true},
		{name: "off", attrs: telemetry.Attributes{Mode: telemetry.ModeOff}, ok: true},
		{name: "unknown mode", attrs: telemetry.Attributes{Mode: "some"}},
		{name: "negative limit", attrs: telemetry.Attributes{Limit: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.attrs.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v; want ok %v", err, tt.ok)
			}
			if _, nerr := telemetry.New(telemetry.Options{Attributes: tt.attrs}); (nerr == nil) != tt.ok {
				t.Errorf("New() = %v; want ok %v", nerr, tt.ok)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("deliver: %w", sdk.ErrPluginExited), "plugin_exited"},
		{fmt.Errorf("deliver: %w", sdk.ErrSinkPanicked), "panic"},
		{gobreaker.ErrOpenState, "breaker_open"},
		{gobreaker.ErrTooManyRequests, "breaker_open"},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), "timeout"},
		{context.Canceled, "canceled"},
		{sdk.RetryAfter(errors.New("429"), time.Second), "throttled"},
		{sdk.Permanent(errors.New("400 bad statement")), "permanent"},
		{sdk.Unauthenticated(nil), "unauthenticated"},
		{sdk.Forbidden(nil), "forbidden"},
		{errors.New("connection refused"), "retryable"},
	}
	for _, tt := range tests {
		if got := telemetry.ErrorType(tt.err); got != tt.want {
			t.Errorf("ErrorType(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}

// TestConcurrentUse records from many goroutines while the metrics are
// collected, for the race detector, and checks that nothing is lost.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, telemetry.Attributes{Mode: telemetry.ModeLimited, Limit: 3})
	unregister, err := e.tel.ObserveIntegrations(snapshots(telemetry.IntegrationSnapshot{Org: "o0", Integration: "o0/lrs", Sink: "lrs", State: "active", Breaker: telemetry.BreakerClosed}))
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()
	const workers, each = 8, 200
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			org := fmt.Sprintf("o%d", w)
			in := e.tel.Integration(org, org+"/lrs", "lrs")
			for range each {
				ctx, rec := e.tel.StartRecord(context.Background(), org, "quiz.completed")
				in.Recorded(1)
				rec.End(1, nil)
				_, b := in.StartBatch(ctx, 1, []trace.SpanContext{rec.SpanContext()})
				in.Delivered(ctx, 1, 0)
				b.End(nil, telemetry.BatchResult{Delivered: 1})
				e.tel.EventRefused(ctx, org, fmt.Sprintf("kind-%d", w), "invalid_event")
			}
		}()
	}
	for range 5 {
		e.collect(t)
	}
	for range workers {
		<-done
	}
	var recorded float64
	orgs := map[string]bool{}
	for _, p := range e.collect(t) {
		if p.Metric == telemetry.MetricRecorded {
			recorded += p.Value
			orgs[strings.Split(strings.Split(p.Attrs, "lrsbridge.org=")[1], ",")[0]] = true
		}
	}
	if recorded != workers*each {
		t.Errorf("recorded %v statements; want %d", recorded, workers*each)
	}
	if len(orgs) != 4 || !orgs[telemetry.Other] {
		t.Errorf("organizations on the recorded counter: %v; want 3 and _other", orgs)
	}
}

// TestRecordedCountsAddUp checks the sums of lrsbridge.statements.recorded,
// which the host counts itself and the meter reads at collection:
// integrations folded into one series add up, a second handle of the same
// integration (a delivery worker made again) counts on from its total, and
// every collection reports the total so far.
func TestRecordedCountsAddUp(t *testing.T) {
	recorded := func(points []point) map[string]float64 {
		out := map[string]float64{}
		for _, p := range points {
			if p.Metric == telemetry.MetricRecorded {
				out[p.Attrs] = p.Value
			}
		}
		return out
	}
	e := newEnv(t, telemetry.Attributes{Mode: telemetry.ModeLimited, Limit: 1})
	e.tel.Integration("first", "first/lrs", "lrs").Recorded(2)
	e.tel.Integration("second", "second/lrs", "lrs").Recorded(3)
	e.tel.Integration("third", "third/archive", "archive").Recorded(4)
	e.tel.Integration("fourth", "fourth/lrs", "lrs").Recorded(5)
	want := map[string]float64{
		"lrsbridge.integration=first/lrs,lrsbridge.org=first,lrsbridge.sink=lrs":   2,
		"lrsbridge.integration=_other,lrsbridge.org=_other,lrsbridge.sink=lrs":     8,
		"lrsbridge.integration=_other,lrsbridge.org=_other,lrsbridge.sink=archive": 4,
	}
	if diff := cmp.Diff(want, recorded(e.collect(t))); diff != "" {
		t.Errorf("first collection (-want +got):\n%s", diff)
	}
	e.tel.Integration("first", "first/lrs", "lrs").Recorded(1)
	e.tel.Integration("fifth", "fifth/lrs", "lrs").Recorded(1)
	want["lrsbridge.integration=first/lrs,lrsbridge.org=first,lrsbridge.sink=lrs"] = 3
	want["lrsbridge.integration=_other,lrsbridge.org=_other,lrsbridge.sink=lrs"] = 9
	if diff := cmp.Diff(want, recorded(e.collect(t))); diff != "" {
		t.Errorf("second collection (-want +got):\n%s", diff)
	}
}
