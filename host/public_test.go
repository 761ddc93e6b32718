package host

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// TestPublicConstantsMatchInternalOnes: the facade spells its constants
// out so that go doc shows them; they must be the values the internal
// packages use.
func TestPublicConstantsMatchInternalOnes(t *testing.T) {
	t.Parallel()
	public := []string{
		DeadLetterRejected, DeadLetterExpired, DeadLetterRemoved, SourceConfig, SourceSaved, Masked,
		StateActive, StateRetrying, StatePausedAuth, StatePausedConfig, StateBreakerOpen, StateBreakerHalfOpen, StateStopped,
		MetricRecorded, MetricDelivered, MetricConflicts, MetricRetried, MetricDeadLettered, MetricRefusedEvents,
		MetricBatchSeconds, MetricBatchSize, MetricRecordSeconds, MetricPluginStarts, MetricPluginRestarts, MetricPluginExits,
		string(AttributesOff), string(AttributesLimited), string(AttributesAll),
	}
	internal := []string{
		deadletter.ClassRejected, deadletter.ClassExpired, deadletter.ClassRemoved, registry.SourceConfig, registry.SourceSaved, secret.Masked,
		delivery.StateActive, delivery.StateRetrying, delivery.StatePausedAuth, delivery.StatePausedConfig, delivery.StateBreakerOpen, delivery.StateBreakerHalfOpen, delivery.StateStopped,
		telemetry.MetricRecorded, telemetry.MetricDelivered, telemetry.MetricAlreadyStored, telemetry.MetricRetried, telemetry.MetricDeadLettered, telemetry.MetricEventsRefused,
		telemetry.MetricBatchDuration, telemetry.MetricBatchSize, telemetry.MetricRecordDuration, telemetry.MetricPluginStarts, telemetry.MetricPluginRestarts, telemetry.MetricPluginExits,
		string(telemetry.ModeOff), string(telemetry.ModeLimited), string(telemetry.ModeAll),
	}
	if diff := cmp.Diff(internal, public); diff != "" {
		t.Errorf("public constants (-internal +public):\n%s", diff)
	}
	if EventErrorKind(normalize.InvalidEvent) != EventInvalid || EventErrorKind(normalize.UnknownKind) != EventUnknownKind {
		t.Errorf("event error kinds differ from the normalizer's")
	}
}

// TestStatusJSON pins the JSON form of the status, which admin APIs serve.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	st := OrgStatus{Org: "acme", RefusedEvents: 2, Sinks: []SinkStatus{{
		ID: "lrs", Label: "LRS", Plugin: "lrs", State: StateRetrying, Queued: 3, QueuedBytes: 900,
		OldestAge: time.Second, InFlight: 1, Delivered: 10, AlreadyStored: 1, Retried: 4, DeadLettered: 2,
		DeadLetters: 2, LastError: "503", LastErrorTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}}}
	got, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"org":"acme","sinks":[{"id":"lrs","label":"LRS","plugin":"lrs","state":"retrying","queued":3,"queued_bytes":900,` +
		`"oldest_age":1000000000,"in_flight":1,"delivered":10,"already_stored":1,"retried":4,"dead_lettered":2,"dead_letters":2,` +
		`"last_error":"503","last_error_time":"2026-01-02T03:04:05Z"}],"refused_events":2}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("status JSON (-want +got):\n%s", diff)
	}
}
