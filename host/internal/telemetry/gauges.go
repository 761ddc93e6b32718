package telemetry

import (
	"context"
	"iter"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Breaker states, the values of [KeyBreakerState].
const (
	// BreakerClosed: calls go through.
	BreakerClosed = "closed"
	// BreakerOpen: calls are refused until the open period ends.
	BreakerOpen = "open"
	// BreakerHalfOpen: a few trial calls go through.
	BreakerHalfOpen = "half_open"
)

// IntegrationSnapshot is the state of one integration when the metrics are
// collected.
type IntegrationSnapshot struct {
	// Org, Integration and Sink name the integration.
	Org, Integration, Sink string
	// QueueDepth counts the statements waiting, in flight included.
	QueueDepth int64
	// OldestAge is the age of the oldest statement waiting; 0 if none.
	OldestAge time.Duration
	// State is the integration state ("active", "retrying", ...).
	State string
	// Breaker is BreakerClosed, BreakerOpen or BreakerHalfOpen.
	Breaker string
}

// ObserveIntegrations registers the source of the gauges: at every
// collection the meter calls integrations and reads every snapshot it
// yields. It must be cheap (it runs on the collecting goroutine, for
// example during a Prometheus scrape) and safe for concurrent use. The
// snapshots of integrations whose attributes are folded together are
// aggregated: queue depths and state counts add up, the oldest age is the
// largest. Call the returned function to unregister, at shutdown.
func (t *Telemetry) ObserveIntegrations(integrations func() iter.Seq[IntegrationSnapshot]) (unregister func() error, err error) {
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.observe(o, integrations())
		return nil
	}, t.queueDepth, t.queueAge, t.breakers, t.integrations)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// gaugeKey identifies the series of one (folded) integration.
type gaugeKey struct {
	org, integration, sink string
}

type queueGauge struct {
	depth int64
	age   time.Duration
}

type stateKey struct {
	gaugeKey
	state string
}

func (t *Telemetry) observe(o metric.Observer, snaps iter.Seq[IntegrationSnapshot]) {
	queues := make(map[gaugeKey]*queueGauge)
	states := make(map[stateKey]int64)
	breakers := make(map[stateKey]int64)
	off := t.fold.mode == ModeOff
	for s := range snaps {
		k := gaugeKey{sink: s.Sink}
		if !off {
			k.org, k.integration = s.Org, s.Integration
			if !t.fold.keeps(s.Org) {
				k.org, k.integration = Other, Other
			}
		}
		q := queues[k]
		if q == nil {
			q = &queueGauge{}
			queues[k] = q
		}
		q.depth += s.QueueDepth
		q.age = max(q.age, s.OldestAge)
		states[stateKey{k, s.State}]++
		breakers[stateKey{k, s.Breaker}]++
	}
	for k, q := range queues {
		attrs := metric.WithAttributes(k.attrs(off)...)
		o.ObserveInt64(t.queueDepth, q.depth, attrs)
		o.ObserveFloat64(t.queueAge, q.age.Seconds(), attrs)
	}
	for k, n := range states {
		o.ObserveInt64(t.integrations, n, metric.WithAttributes(with(k.attrs(off), KeyIntegrationState.String(k.state))...))
	}
	for k, n := range breakers {
		o.ObserveInt64(t.breakers, n, metric.WithAttributes(with(k.attrs(off), KeyBreakerState.String(k.state))...))
	}
}

func (k gaugeKey) attrs(off bool) []attribute.KeyValue {
	if off {
		return []attribute.KeyValue{KeySink.String(k.sink)}
	}
	return []attribute.KeyValue{KeyOrg.String(k.org), KeyIntegration.String(k.integration), KeySink.String(k.sink)}
}
