package host

import (
	"context"
	"fmt"
	"iter"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// TelemetryConfig configures the host's OpenTelemetry metrics and traces.
// The providers themselves are options ([WithMeterProvider],
// [WithTracerProvider]): the application chooses the SDK and exporters.
type TelemetryConfig struct {
	// Attributes decides which organizations keep their own organization
	// and integration attributes on metrics.
	Attributes TelemetryAttributes `koanf:"attributes"`
}

// TelemetryAttributes bounds the organization and integration attributes
// of metrics, the one source of high cardinality (docs/operations.md has
// the memory each mode costs). Spans always name the organization.
type TelemetryAttributes struct {
	// Mode is AttributesOff, AttributesLimited or AttributesAll. Default
	// AttributesLimited.
	Mode AttributeMode `koanf:"mode"`
	// Limit is the number of organizations, besides Allow, that keep their
	// own values in AttributesLimited, in the order the host first records
	// something for them; every other one is counted under "_other".
	// Default 100.
	Limit int `koanf:"limit"`
	// Allow lists organizations that always keep their own values in
	// AttributesLimited (for example the largest customers). Default none.
	Allow []string `koanf:"allow"`
}

// AttributeMode says which organizations keep their own attribute values
// on metrics.
type AttributeMode string

// The attribute modes.
const (
	// AttributesOff leaves the organization and integration attributes out
	// of every metric: one series per sink plugin for the whole host.
	AttributesOff AttributeMode = AttributeMode(telemetry.ModeOff)
	// AttributesLimited keeps the values of the allow-listed organizations
	// and of the first Limit others, and counts the rest together.
	AttributesLimited AttributeMode = AttributeMode(telemetry.ModeLimited)
	// AttributesAll keeps every organization's values: one series per
	// integration, for hosts with few organizations.
	AttributesAll AttributeMode = AttributeMode(telemetry.ModeAll)
)

// UnmarshalText accepts the modes' names.
func (m *AttributeMode) UnmarshalText(b []byte) error {
	v := AttributeMode(b)
	if err := v.check(); err != nil {
		return err
	}
	*m = v
	return nil
}

func (m AttributeMode) check() error {
	switch m {
	case "", AttributesOff, AttributesLimited, AttributesAll:
		return nil
	}
	return fmt.Errorf("is %q, want %q, %q or %q", string(m), AttributesOff, AttributesLimited, AttributesAll)
}

// internal returns the telemetry package's form of a.
func (a TelemetryAttributes) internal() telemetry.Attributes {
	return telemetry.Attributes{Mode: telemetry.Mode(a.Mode), Limit: a.Limit, Allow: a.Allow}
}

// WithMeterProvider sets the OpenTelemetry meter provider of the host's
// metrics (docs/operations.md lists them). Default: the global provider
// (otel.GetMeterProvider), which records nothing until the application
// sets one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(h *Host) {
		if mp != nil {
			h.meterProvider = mp
			h.bridged = false
		}
	}
}

// WithTracerProvider sets the OpenTelemetry tracer provider of the host's
// spans: one per Record or RecordEvent call and one per delivery batch,
// linked to the records it carries, with the sink plugins' own spans
// joining the trace. Default: the global provider (otel.GetTracerProvider),
// which records nothing until the application sets one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(h *Host) {
		if tp != nil {
			h.tracerProvider = tp
		}
	}
}

// snapshots yields the state of every integration for the gauges. It runs
// at each collection (for example a Prometheus scrape): it takes the
// host's lock only to list the integrations.
func (h *Host) snapshots() iter.Seq[telemetry.IntegrationSnapshot] {
	return func(yield func(telemetry.IntegrationSnapshot) bool) {
		for _, it := range h.integrations() {
			if !yield(it.snapshot()) {
				return
			}
		}
	}
}

func (it *integration) snapshot() telemetry.IntegrationSnapshot {
	s := telemetry.IntegrationSnapshot{
		Org: it.org, Integration: it.in.ID, Sink: it.in.Plugin,
		State: StateQueueError, Breaker: telemetry.BreakerClosed,
	}
	if it.w == nil {
		return s
	}
	st := it.q.Stats()
	s.QueueDepth = int64(st.Pending)
	if !st.Oldest.IsZero() {
		s.OldestAge = time.Since(st.Oldest)
	}
	s.State = it.w.Status().State
	s.Breaker = it.w.BreakerState()
	return s
}

// reason is the class of a refusal of kind k on the events refused metric.
func (k EventErrorKind) reason() string {
	if k == EventUnknownKind {
		return "unknown_kind"
	}
	return "invalid_event"
}

// pluginStarted and pluginExited count the supervisor's process starts
// and exits.
func (h *Host) pluginStarted(org, plugin string, restart bool) {
	h.tel.PluginStarted(context.Background(), plugin, org, restart)
}

func (h *Host) pluginExited(org, plugin string, stopped bool) {
	how := telemetry.ExitCrash
	if stopped {
		how = telemetry.ExitShutdown
	}
	h.tel.PluginExited(context.Background(), plugin, org, how)
}
