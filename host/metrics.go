package host

import "github.com/learningflow/lrsbridge/host/internal/delivery"

// Metrics receives the host's measurements. Wire it to OpenTelemetry,
// Prometheus or anything else; the default discards. Implementations must be
// safe for concurrent use and fast: they are called on the delivery path.
//
// Every measurement names the organization and, where it applies, the sink
// instance (empty otherwise).
type Metrics interface {
	// Count adds delta to the counter name.
	Count(name string, delta int64, org, sink string)
	// Observe records one value of the distribution name (seconds for
	// latencies, statements for batch sizes).
	Observe(name string, value float64, org, sink string)
}

// Metric names.
const (
	// MetricRecorded counts statements accepted by Record and RecordEvent,
	// once per sink instance they were queued for.
	MetricRecorded = "lrsbridge.statements.recorded"
	// MetricDelivered counts statements a sink reported delivered,
	// including those already stored.
	MetricDelivered = delivery.MetricDelivered
	// MetricConflicts counts statements a sink reported already stored.
	MetricConflicts = delivery.MetricConflicts
	// MetricRetried counts statements handed back for a later retry.
	MetricRetried = delivery.MetricRetried
	// MetricDeadLettered counts statements moved to the dead-letter store.
	MetricDeadLettered = delivery.MetricDeadLettered
	// MetricRefusedEvents counts events refused by normalization
	// (transformation errors, as opposed to delivery errors).
	MetricRefusedEvents = "lrsbridge.events.refused"
	// MetricBatchSeconds observes the duration of delivery calls.
	MetricBatchSeconds = delivery.MetricBatchSeconds
	// MetricBatchSize observes the number of statements per delivery call.
	MetricBatchSize = delivery.MetricBatchSize
	// MetricPluginRestarts counts plugin process starts after the first.
	MetricPluginRestarts = "lrsbridge.plugin.restarts"
)

type discardMetrics struct{}

func (discardMetrics) Count(string, int64, string, string)     {}
func (discardMetrics) Observe(string, float64, string, string) {}
