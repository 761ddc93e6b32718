package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the host's meter and tracer.
const ScopeName = "github.com/learningflow/lrsbridge/host"

// Metric names. The table in docs/operations.md says what moves each one.
const (
	// MetricRecorded counts statements queued, per integration.
	MetricRecorded = "lrsbridge.statements.recorded"
	// MetricDelivered counts statements delivered, already stored included.
	MetricDelivered = "lrsbridge.statements.delivered"
	// MetricAlreadyStored counts statements a sink had stored before.
	MetricAlreadyStored = "lrsbridge.statements.already_stored"
	// MetricRetried counts statements handed back for a later attempt
	// after a delivery attempt; breaker refusals are not attempts.
	MetricRetried = "lrsbridge.statements.retried"
	// MetricDeadLettered counts statements moved to the dead-letter store.
	MetricDeadLettered = "lrsbridge.statements.dead_lettered"
	// MetricEventsRefused counts events RecordEvent refused.
	MetricEventsRefused = "lrsbridge.events.refused"
	// MetricBatchDuration is the histogram of delivery call durations.
	MetricBatchDuration = "lrsbridge.delivery.batch.duration"
	// MetricBatchSize is the histogram of statements per delivery call.
	MetricBatchSize = "lrsbridge.delivery.batch.size"
	// MetricRecordDuration is the histogram of Record call durations.
	MetricRecordDuration = "lrsbridge.record.duration"
	// MetricQueueDepth is the gauge of statements waiting.
	MetricQueueDepth = "lrsbridge.queue.depth"
	// MetricQueueAge is the gauge of the oldest waiting statement's age.
	MetricQueueAge = "lrsbridge.queue.oldest_age"
	// MetricBreakers is the gauge of circuit breakers per state.
	MetricBreakers = "lrsbridge.breakers"
	// MetricIntegrations is the gauge of integrations per state.
	MetricIntegrations = "lrsbridge.integrations"
	// MetricPluginStarts counts plugin process starts.
	MetricPluginStarts = "lrsbridge.plugin.starts"
	// MetricPluginRestarts counts plugin process starts after an exit.
	MetricPluginRestarts = "lrsbridge.plugin.restarts"
	// MetricPluginExits counts plugin process exits.
	MetricPluginExits = "lrsbridge.plugin.exits"
)

// Bucket boundaries: delivery calls take from milliseconds (a local
// archive) to the delivery timeout (a slow LRS); Record calls take
// microseconds to milliseconds (a disk sync); batches hold 1 to a few
// hundred statements.
var (
	durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	recordBuckets   = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
	sizeBuckets     = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
)

// maxEventKinds caps the distinct event kinds on metrics; a sender that
// invents kinds cannot grow the host's series past it.
const maxEventKinds = 64

// Options configures [New].
type Options struct {
	// MeterProvider creates the host's meter. Nil means the global one
	// (otel.GetMeterProvider), a no-op until the application sets one.
	MeterProvider metric.MeterProvider
	// TracerProvider creates the host's tracer. Nil means the global one.
	TracerProvider trace.TracerProvider
	// Attributes controls the organization and integration attributes of
	// metrics. The zero value is ModeLimited with DefaultLimit.
	Attributes Attributes
}

// Telemetry holds the host's instruments and tracer.
type Telemetry struct {
	tracer trace.Tracer
	meter  metric.Meter
	fold   *folder
	kinds  *valueLimit

	// recorded is lrsbridge.statements.recorded for a push meter (the
	// Bridge), which has no collection to observe at; recordedObs is the
	// same metric for every other meter, read from recordedSets.
	recorded     metric.Int64Counter
	recordedObs  metric.Int64ObservableCounter
	recordedMu   sync.Mutex
	recordedSets map[attribute.Distinct]*recordedSeries

	delivered, alreadyStored, retried, deadLettered metric.Int64Counter
	refused                                         metric.Int64Counter
	pluginStarts, pluginRestarts, pluginExits       metric.Int64Counter
	batchDuration, recordDuration                   metric.Float64Histogram
	batchSize                                       metric.Int64Histogram
	queueDepth, breakers, integrations              metric.Int64ObservableGauge
	queueAge                                        metric.Float64ObservableGauge
}

// New creates the instruments. It fails only if the attribute options are
// invalid or the meter provider refuses an instrument.
func New(opts Options) (*Telemetry, error) {
	if err := opts.Attributes.Validate(); err != nil {
		return nil, err
	}
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Telemetry{
		tracer: tp.Tracer(ScopeName),
		meter:  mp.Meter(ScopeName),
		fold:   newFolder(opts.Attributes),
		kinds:  newValueLimit(maxEventKinds),
	}
	m := t.meter
	var errs []error
	counter := func(dst *metric.Int64Counter, name, unit, desc string) {
		var err error
		*dst, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
	}
	const recordedDesc = "Statements accepted by Record and RecordEvent, once per integration they were queued for."
	if _, push := mp.(bridgeProvider); push {
		counter(&t.recorded, MetricRecorded, "{statement}", recordedDesc)
	} else {
		var err error
		t.recordedObs, err = m.Int64ObservableCounter(MetricRecorded, metric.WithUnit("{statement}"), metric.WithDescription(recordedDesc))
		errs = append(errs, err)
		if err == nil {
			t.recordedSets = make(map[attribute.Distinct]*recordedSeries)
			// Never unregistered: like a synchronous counter's, the
			// totals outlive the host that counted them.
			_, err = m.RegisterCallback(t.observeRecorded, t.recordedObs)
			errs = append(errs, err)
		}
	}
	counter(&t.delivered, MetricDelivered, "{statement}", "Statements a sink reported delivered, including those already stored.")
	counter(&t.alreadyStored, MetricAlreadyStored, "{statement}", "Statements a sink reported already stored (an LRS answered 409 Conflict).")
	counter(&t.retried, MetricRetried, "{statement}", "Statements handed back to the queue for a later attempt after a delivery attempt that did not settle them; batches the circuit breaker refused are not counted.")
	counter(&t.deadLettered, MetricDeadLettered, "{statement}", "Statements moved to the dead-letter store.")
	counter(&t.refused, MetricEventsRefused, "{event}", "Events refused by RecordEvent before anything was queued.")
	counter(&t.pluginStarts, MetricPluginStarts, "{start}", "Sink plugin processes started, including restarts.")
	counter(&t.pluginRestarts, MetricPluginRestarts, "{restart}", "Sink plugin processes started again after one of the same key exited.")
	counter(&t.pluginExits, MetricPluginExits, "{exit}", "Sink plugin processes that exited.")

	var err error
	t.batchDuration, err = m.Float64Histogram(MetricBatchDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of delivery calls to a sink, one per batch."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	t.recordDuration, err = m.Float64Histogram(MetricRecordDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of Record and RecordEvent calls, from the call to the statements being queued."),
		metric.WithExplicitBucketBoundaries(recordBuckets...))
	errs = append(errs, err)
	t.batchSize, err = m.Int64Histogram(MetricBatchSize, metric.WithUnit("{statement}"),
		metric.WithDescription("Statements per delivery call."),
		metric.WithExplicitBucketBoundaries(sizeBuckets...))
	errs = append(errs, err)

	t.queueDepth, err = m.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{statement}"),
		metric.WithDescription("Statements waiting in an integration's queue, in flight included."))
	errs = append(errs, err)
	t.queueAge, err = m.Float64ObservableGauge(MetricQueueAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest statement waiting in an integration's queue; 0 when it is empty."))
	errs = append(errs, err)
	t.breakers, err = m.Int64ObservableGauge(MetricBreakers, metric.WithUnit("{breaker}"),
		metric.WithDescription("Circuit breakers per state: 1 for an integration's breaker in that state when organizations keep their attributes, a count otherwise."))
	errs = append(errs, err)
	t.integrations, err = m.Int64ObservableGauge(MetricIntegrations, metric.WithUnit("{integration}"),
		metric.WithDescription("Integrations per state: 1 for an integration in that state when organizations keep their attributes, a count otherwise."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("telemetry: create instruments: %w", err)
	}
	return t, nil
}

// Integration returns the handle that records the metrics and spans of one
// integration. Create it once per delivery worker: it folds the attributes
// once, which admits the organization to the limited set if there is room.
func (t *Telemetry) Integration(org, id, sink string) *Integration {
	attrs := with(t.fold.integration(org, id), KeySink.String(sink))
	set := attribute.NewSet(attrs...)
	return &Integration{
		t:         t,
		recorded:  t.recordedSeries(set),
		org:       org,
		id:        id,
		sink:      sink,
		attrs:     attrs,
		add:       []metric.AddOption{metric.WithAttributeSet(set)},
		rec:       []metric.RecordOption{metric.WithAttributeSet(set)},
		rejected:  []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(with(attrs, KeyDeadLetterReason.String(DeadLetterRejected))...))},
		expired:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(with(attrs, KeyDeadLetterReason.String(DeadLetterExpired))...))},
		spanAttrs: []attribute.KeyValue{KeyOrg.String(org), KeyIntegration.String(id), KeySink.String(sink)},
	}
}

// Dead-letter reasons, the values of [KeyDeadLetterReason].
const (
	// DeadLetterRejected: the sink refused the statement for good.
	DeadLetterRejected = "rejected"
	// DeadLetterExpired: the statement could not be delivered before its
	// retry deadline.
	DeadLetterExpired = "expired"
)

// EventRefused counts one event refused by RecordEvent. kind is the event's
// kind as sent (its distinct values on metrics are capped); reason is the
// class of the refusal, for example "invalid_event", "unknown_kind",
// "unknown_org".
func (t *Telemetry) EventRefused(ctx context.Context, org, kind, reason string) {
	attrs := with(t.fold.org(org), KeyEventKind.String(t.kinds.value(kind)), KeyErrorType.String(reason))
	t.refused.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// PluginStarted counts one plugin process start; restart says whether a
// process of the same key ran before. org is empty for a process shared by
// all organizations.
func (t *Telemetry) PluginStarted(ctx context.Context, plugin, org string, restart bool) {
	opt := metric.WithAttributes(t.pluginAttrs(plugin, org)...)
	t.pluginStarts.Add(ctx, 1, opt)
	if restart {
		t.pluginRestarts.Add(ctx, 1, opt)
	}
}

// Plugin exit kinds, the values of [KeyPluginExit].
const (
	// ExitShutdown: the host stopped the process.
	ExitShutdown = "shutdown"
	// ExitCrash: the process exited on its own or was killed by someone
	// else.
	ExitCrash = "crash"
)

// PluginExited counts one plugin process exit; how is ExitShutdown or
// ExitCrash.
func (t *Telemetry) PluginExited(ctx context.Context, plugin, org, how string) {
	t.pluginExits.Add(ctx, 1, metric.WithAttributes(with(t.pluginAttrs(plugin, org), KeyPluginExit.String(how))...))
}

func (t *Telemetry) pluginAttrs(plugin, org string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{KeyPlugin.String(plugin)}
	if org != "" {
		attrs = append(attrs, t.fold.org(org)...)
	}
	return attrs
}

// recordedSeries counts the statements recorded under one attribute set
// of lrsbridge.statements.recorded, for the observable counter: an
// atomic add per Record call instead of a synchronous counter's
// measurement (about half a microsecond of the SDK's work, see
// BenchmarkRecordPath), and the same sums at collection. Integrations
// folded into one set share it.
type recordedSeries struct {
	n   atomic.Int64
	opt []metric.ObserveOption
}

// recordedSeries returns the series of set, made on first use; nil with a
// push meter. A series is kept for the life of the Telemetry, as the
// SDK keeps a synchronous counter's: an integration that goes and comes
// back, or a delivery worker made again, counts on from its total, and
// a folded total never goes down.
func (t *Telemetry) recordedSeries(set attribute.Set) *recordedSeries {
	if t.recordedObs == nil {
		return nil
	}
	t.recordedMu.Lock()
	defer t.recordedMu.Unlock()
	s := t.recordedSets[set.Equivalent()]
	if s == nil {
		s = &recordedSeries{opt: []metric.ObserveOption{metric.WithAttributeSet(set)}}
		t.recordedSets[set.Equivalent()] = s
	}
	return s
}

// observeRecorded reports every recorded series at a collection.
func (t *Telemetry) observeRecorded(_ context.Context, o metric.Observer) error {
	t.recordedMu.Lock()
	defer t.recordedMu.Unlock()
	for _, s := range t.recordedSets {
		o.ObserveInt64(t.recordedObs, s.n.Load(), s.opt...)
	}
	return nil
}

// Integration records the metrics and spans of one integration. Its
// methods do not allocate on the metric path.
type Integration struct {
	t             *Telemetry
	recorded      *recordedSeries // nil with a push meter
	org, id, sink string
	attrs         []attribute.KeyValue
	// The measurement options are kept as slices: passing a slice on
	// does not allocate, a single variadic argument does.
	add               []metric.AddOption
	rec               []metric.RecordOption
	rejected, expired []metric.AddOption
	spanAttrs         []attribute.KeyValue
}

// Recorded counts n statements queued for the integration: an atomic
// add, which the meter reads at collection (see recordedSeries). It takes
// no context: a count made once per Record call offers no exemplar.
func (i *Integration) Recorded(n int) {
	if i.recorded != nil {
		i.recorded.n.Add(int64(n))
		return
	}
	i.t.recorded.Add(context.Background(), int64(n), i.add...)
}

// Delivered counts n statements the sink reported delivered, of which
// alreadyStored were stored before.
func (i *Integration) Delivered(ctx context.Context, n, alreadyStored int) {
	if n > 0 {
		i.t.delivered.Add(ctx, int64(n), i.add...)
	}
	if alreadyStored > 0 {
		i.t.alreadyStored.Add(ctx, int64(alreadyStored), i.add...)
	}
}

// Retried counts n statements handed back for a later attempt because of
// err (classified by [ErrorType]).
func (i *Integration) Retried(ctx context.Context, n int, err error) {
	i.t.retried.Add(ctx, int64(n), metric.WithAttributes(with(i.attrs, KeyErrorType.String(ErrorType(err)))...))
}

// DeadLettered counts n statements moved to the dead-letter store; reason
// is DeadLetterRejected or DeadLetterExpired.
func (i *Integration) DeadLettered(ctx context.Context, n int, reason string) {
	opt := i.rejected
	if reason == DeadLetterExpired {
		opt = i.expired
	}
	i.t.deadLettered.Add(ctx, int64(n), opt...)
}

// observeBatch records the duration and size of one delivery call.
func (i *Integration) observeBatch(ctx context.Context, size int, d time.Duration, err error) {
	i.t.batchSize.Record(ctx, int64(size), i.rec...)
	if err == nil {
		i.t.batchDuration.Record(ctx, d.Seconds(), i.rec...)
		return
	}
	i.t.batchDuration.Record(ctx, d.Seconds(), metric.WithAttributes(with(i.attrs, KeyErrorType.String(ErrorType(err)))...))
}
