package host

// Metrics receives the host's counters and histograms through
// [WithMetrics]. Implementations must be safe for concurrent use and fast:
// they are called on the delivery path.
//
// Every measurement names the organization and, where it applies, the
// integration (for plugin process counters: the plugin), empty otherwise.
//
// Deprecated: the host measures with OpenTelemetry ([WithMeterProvider]);
// Metrics is kept, through an adapter, for one release.
type Metrics interface {
	// Count adds delta to the counter name.
	Count(name string, delta int64, org, sink string)
	// Observe records one value of the distribution name (seconds for
	// durations, statements for batch sizes).
	Observe(name string, value float64, org, sink string)
}

// Metric names, the names of the OpenTelemetry instruments;
// docs/operations.md says what moves each one.
const (
	// MetricRecorded counts statements accepted by Record and RecordEvent,
	// once per integration they were queued for.
	MetricRecorded = "lrsbridge.statements.recorded"
	// MetricDelivered counts statements a sink reported delivered,
	// including those already stored.
	MetricDelivered = "lrsbridge.statements.delivered"
	// MetricConflicts counts statements a sink reported already stored.
	MetricConflicts = "lrsbridge.statements.already_stored"
	// MetricRetried counts statements handed back for a later retry after
	// a delivery attempt; a batch the circuit breaker refused was not
	// attempted and is not counted (MetricBatchSeconds observes it with
	// error.type breaker_open).
	MetricRetried = "lrsbridge.statements.retried"
	// MetricDeadLettered counts statements moved to the dead-letter store.
	MetricDeadLettered = "lrsbridge.statements.dead_lettered"
	// MetricRefusedEvents counts events refused by RecordEvent
	// (transformation errors, as opposed to delivery errors).
	MetricRefusedEvents = "lrsbridge.events.refused"
	// MetricBatchSeconds observes the duration of delivery calls, in
	// seconds, batches the circuit breaker refused included.
	MetricBatchSeconds = "lrsbridge.delivery.batch.duration"
	// MetricBatchSize observes the number of statements per delivery call.
	MetricBatchSize = "lrsbridge.delivery.batch.size"
	// MetricRecordSeconds observes the duration of Record and RecordEvent
	// calls, in seconds.
	MetricRecordSeconds = "lrsbridge.record.duration"
	// MetricPluginStarts counts plugin process starts.
	MetricPluginStarts = "lrsbridge.plugin.starts"
	// MetricPluginRestarts counts plugin process starts after one of the
	// same plugin (and organization, for per-organization processes)
	// exited.
	MetricPluginRestarts = "lrsbridge.plugin.restarts"
	// MetricPluginExits counts plugin process exits.
	MetricPluginExits = "lrsbridge.plugin.exits"
)
