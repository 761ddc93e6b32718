package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	"go.opentelemetry.io/otel/metric/noop"
)

// Receiver is the shape of the host's former Metrics interface: a counter
// and a distribution by name, with the organization and the integration
// (empty where it does not apply). host.Metrics satisfies it.
type Receiver interface {
	Count(name string, delta int64, org, integration string)
	Observe(name string, value float64, org, integration string)
}

// Bridge returns a MeterProvider that hands the host's counters and
// histograms to r, for an application that still passes host.WithMetrics:
// the host measures only through OpenTelemetry, and this keeps the old
// receiver working for one release. Counters arrive as Count, histograms as
// Observe, under the names of this package (MetricRecorded, ...); the
// gauges, which the old interface cannot carry, are dropped. Use it with
// [ModeAll] for the organizations' real ids. It allocates per measurement:
// an application that cares moves to a MeterProvider of its own.
func Bridge(r Receiver) metric.MeterProvider { return bridgeProvider{r: r} }

type bridgeProvider struct {
	embedded.MeterProvider
	r Receiver
}

func (p bridgeProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return bridgeMeter{r: p.r}
}

// bridgeMeter makes bridging counters and histograms; every other
// instrument is a no-op.
type bridgeMeter struct {
	noop.Meter
	r Receiver
}

func (m bridgeMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return bridgeCounter{name: name, r: m.r}, nil
}

func (m bridgeMeter) Int64Histogram(name string, _ ...metric.Int64HistogramOption) (metric.Int64Histogram, error) {
	return bridgeIntHistogram{name: name, r: m.r}, nil
}

func (m bridgeMeter) Float64Histogram(name string, _ ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return bridgeHistogram{name: name, r: m.r}, nil
}

// orgAndIntegration reads the two attributes the old interface carries.
func orgAndIntegration(set attribute.Set) (org, integration string) {
	if v, ok := set.Value(KeyOrg); ok {
		org = v.AsString()
	}
	if v, ok := set.Value(KeyIntegration); ok {
		integration = v.AsString()
	} else if v, ok := set.Value(KeyPlugin); ok {
		// Plugin process counters named the plugin where the integration
		// would be.
		integration = v.AsString()
	}
	return org, integration
}

type bridgeCounter struct {
	embedded.Int64Counter
	name string
	r    Receiver
}

func (c bridgeCounter) Add(_ context.Context, incr int64, opts ...metric.AddOption) {
	org, in := orgAndIntegration(metric.NewAddConfig(opts).Attributes())
	c.r.Count(c.name, incr, org, in)
}

func (c bridgeCounter) Enabled(context.Context) bool { return true }

type bridgeIntHistogram struct {
	embedded.Int64Histogram
	name string
	r    Receiver
}

func (h bridgeIntHistogram) Record(_ context.Context, v int64, opts ...metric.RecordOption) {
	org, in := orgAndIntegration(metric.NewRecordConfig(opts).Attributes())
	h.r.Observe(h.name, float64(v), org, in)
}

func (h bridgeIntHistogram) Enabled(context.Context) bool { return true }

type bridgeHistogram struct {
	embedded.Float64Histogram
	name string
	r    Receiver
}

func (h bridgeHistogram) Record(_ context.Context, v float64, opts ...metric.RecordOption) {
	org, in := orgAndIntegration(metric.NewRecordConfig(opts).Attributes())
	h.r.Observe(h.name, v, org, in)
}

func (h bridgeHistogram) Enabled(context.Context) bool { return true }
