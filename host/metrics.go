package host

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
	MetricDelivered = "lrsbridge.statements.delivered"
	// MetricConflicts counts statements a sink reported already stored.
	MetricConflicts = "lrsbridge.statements.already_stored"
	// MetricRetried counts statements handed back for a later retry.
	MetricRetried = "lrsbridge.statements.retried"
	// MetricDeadLettered counts statements moved to the dead-letter store.
	MetricDeadLettered = "lrsbridge.statements.dead_lettered"
	// MetricRefusedEvents counts events refused by normalization
	// (transformation errors, as opposed to delivery errors).
	MetricRefusedEvents = "lrsbridge.events.refused"
	// MetricBatchSeconds observes the duration of delivery calls.
	MetricBatchSeconds = "lrsbridge.delivery.batch_seconds"
	// MetricBatchSize observes the number of statements per delivery call.
	MetricBatchSize = "lrsbridge.delivery.batch_size"
	// MetricPluginRestarts counts plugin process starts after the first.
	MetricPluginRestarts = "lrsbridge.plugin.restarts"
)

type discardMetrics struct{}

func (discardMetrics) Count(string, int64, string, string)     {}
func (discardMetrics) Observe(string, float64, string, string) {}
