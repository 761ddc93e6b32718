// Package telemetry holds the host's OpenTelemetry instruments and span
// helpers: every metric of the host is created here, from a
// metric.MeterProvider and a trace.TracerProvider handed in by the
// embedder (the API only; the embedder picks the SDK and exporters).
//
// The host creates one [Telemetry] per host, one [Integration] handle per
// delivery worker (it caches the folded attribute set, so that recording on
// the delivery path does not allocate) and registers one callback with
// [Telemetry.ObserveIntegrations] for the gauges.
//
// Cardinality: the organization and integration attributes of metrics are
// governed by [Attributes]. With [ModeOff] no metric carries them; with
// [ModeLimited] (the default) the allow-listed organizations and the first
// Limit other organizations seen keep their own values and every other
// organization is folded into the value "_other"; with [ModeAll] every
// organization keeps its own. Spans always carry the organization: they are
// not aggregated, so they cost nothing per organization.
//
// Traces: [Telemetry.StartRecord] starts the span of one Record or
// RecordEvent call; when it is sampled, its span context is stored with
// each queued statement ([AppendSpanContext], 26 bytes, encoded once per
// call) and handed back to [Integration.StartBatch], whose span is a child
// of the first sampled record span of the batch and linked to all of them.
// Spans get their attributes when they end, in one call, and measurements
// made once per Record call offer no exemplars except the record duration:
// see BenchmarkRecordPath for what a traced call costs.
//
// All methods are safe for concurrent use.
package telemetry
