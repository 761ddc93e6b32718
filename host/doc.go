// Package host is the part of lrsbridge that LearningFlow embeds. It turns
// learning events into valid xAPI statements, queues them durably per
// organization and integration, and delivers them through circuit breakers
// to sink plugins (the generic LRS sink, the file archive, the mock, or
// third-party plugins built with package sdk).
//
// # Lifecycle
//
// Build a [Config] in code ([DefaultConfig]) or load it with [LoadConfig]
// (defaults, a YAML file, then LRSBRIDGE_ environment variables; a key the
// configuration does not have is an error that names it and suggests the
// closest known one), start a
// host with [New], record with [Host.RecordEvent] or [Host.Record], and stop
// with [Host.Shutdown], which drains queues within its deadline. A
// *slog.Logger and OpenTelemetry providers are injected with options; the
// package has no global state (without providers it uses OpenTelemetry's
// global ones, no-ops until the application sets them).
//
// # Durability and delivery
//
// Recording returns once the statements are durable (queue.sync: "always",
// the default, fsyncs before returning and lets concurrent callers share
// fsyncs). Each integration (sink instance) has its own queue, so one slow
// or failing integration never holds up another. A worker per integration
// takes batches (delivery.batch_size, batch_bytes, linger), hands them to the
// plugin through the instance's circuit breaker and settles every statement:
//
//   - delivered, or already stored at the LRS: removed from the queue;
//   - rejected permanently (for example an LRS 400 for that statement):
//     moved to the dead-letter store with the sink's reason, then removed;
//   - failed transiently: retried with exponential backoff and jitter,
//     honouring Retry-After, until delivery.max_age, then dead-lettered as
//     expired;
//   - rejected credentials (LRS 401/403) or configuration: the integration
//     is paused with its statements kept, until it is saved again or
//     resumed.
//
// The breaker opens after delivery.breaker_failures consecutive failed
// batches; while it is open the worker waits delivery.breaker_open (not a
// growing backoff), then sends exactly one probe batch, and once the probe
// succeeds the backlog drains at full speed. Permanent rejections and
// credential failures do not count as failures, nor do the breaker's own
// refusals.
// Delivery is at least once: after a crash, statements that were in flight
// are sent again, and LRSs recognize them by their deterministic ids.
//
// Defaults: batches of 100 statements or 1 MiB, 20 ms linger, backoff from
// 500 ms to 5 min, 7 days maximum age, breaker after 5 failures for 30 s,
// 60 s per delivery call; quotas of 1 GiB pending per integration, 2 GiB per
// organization and 10 GiB in total, beyond which recording fails with
// [ErrFull] and nothing already accepted is dropped.
//
// # Several instances
//
// With queue.backend "jetstream" ([BackendJetStream], configured by
// [NATSConfig] under queue.nats) queues, dead letters, organizations and
// integrations saved at run time, SCORM attempt state and status live on
// NATS JetStream servers shared by several hosts instead of under
// data_dir: any instance records, one instance at a time delivers each
// integration (another takes over when it dies), and every instance
// applies what another saves. A Record call then takes at most 1,000
// statements. Give every instance the same secrets.key and queue.nats
// settings.
//
// # Plugins
//
// Plugins are started lazily on the first batch, one process per plugin
// shared by all organizations, or one per organization when
// plugins.process names "per_org" for it. A plugin that dies is restarted
// with backoff and its instances configured again; its unacknowledged batch
// is delivered again. Processes without instances stop after
// plugins.idle_timeout. Binaries with a configured sha256 are verified
// before every start. A plugin whose file is missing or fails its
// checksum cannot heal by retrying: its integrations pause
// (StatePausedPlugin, logged once at ERROR, with what to do in LastError)
// and resume by themselves once the file is usable again, or on Resume. Plugins get the operator's egress policy and only the
// proxy and TLS trust variables of the host's environment.
// [WithProvider] serves a plugin in the host's own process instead, for
// sinks built into the embedding program and for fast tests.
//
// # Integrations and secrets
//
// Organizations come from the configuration file or are created at run
// time with [Host.PutOrg] (and removed with [Host.RemoveOrg]); both persist
// under the data directory. Their integrations can be managed at run time: [Host.TestIntegration] runs a candidate's
// connection test, [Host.SaveIntegration] saves it only if the test passes
// (unless forced), persists it and makes it active atomically,
// [Host.RemoveIntegration] removes it (its queued statements move to the
// dead-letter store) and [Host.Integrations] lists them. Configuration keys
// that name secrets (see [IsSecretKey]) are masked in listings, status,
// errors and logs, and encrypted with AES-256-GCM (secrets.key) when
// persisted (at any depth: secrets nested in maps and lists too); without
// a key the host refuses to persist them unless secrets.allow_plaintext is
// set. Every form derived from a secret (other letter cases, URL, JSON
// and base64 encodings, an HTTP Basic credential) is redacted from what
// the host shows, and sinks' messages are cut to short excerpts.
//
// Organization admins are untrusted: at run time they may choose only the
// plugins of plugins.allow_runtime and may not set the settings of
// plugins.config_only_settings (local file paths, by default); such a
// candidate is refused with a [*PolicyError] wrapping [ErrNotAllowed].
// The rules an admin API needs live here too, so that every API over the
// host applies them alike: [IntegrationID] and [Host.NewIntegrationID]
// derive an integration's id from its label, [SaveOptions].CreateOnly
// refuses to replace one ([ErrIntegrationExists]), and
// [Host.ReplayDeadLettersInto] delivers the dead letters of a removed
// integration through another. [Host.RemoveOrg] archives
// what an organization leaves (its dead letters, with the statements its
// queues held, and its SCORM attempt state) under data_dir/removed-orgs, so that an organization
// created later with the same id starts empty. [Host.ReplayDeadLetters]
// queues dead letters in chunks, each durable before it leaves the
// dead-letter store, so that a crash never loses one.
//
// # Events
//
// [Host.RecordEvent] normalizes LearningFlow events (H5P, SCORM 1.2/2004,
// xAPI packages, chatbot, quiz) into statements with deterministic ids and
// content, validates each for xAPI 1.0.3 and 2.0.0 and only then queues
// them. An invalid event is refused with an [EventError] naming the event,
// the field and the problem; nothing partial is queued.
//
// # Status
//
// [Host.Status] reports per integration its state, queue depth and oldest
// age, delivered / retried / dead-lettered counts (kept across re-saves
// and restarts), last success and last error (redacted), for
// LearningFlow's settings panel. Saving, removing and re-saving
// integrations or organizations never holds up recording for others: the
// slow part of a removal (closing the sink, moving its queue to dead
// letters) runs without the host's lock.
//
// # Telemetry
//
// The host measures and traces with the OpenTelemetry API only
// ([WithMeterProvider], [WithTracerProvider]); the application picks the
// SDK and exporters. Metrics count statements recorded, delivered, already
// stored, retried and dead-lettered, events refused, delivery batches and
// Record calls, and observe queue depth and oldest age, integration and
// breaker states and plugin process starts, restarts and exits; the
// organization and integration attributes are bounded by
// telemetry.attributes (mode off, limited (the default: the allow list and
// the first 100 organizations) or all). Each Record or RecordEvent call is
// a span; each queued statement keeps its span context, so the span of the
// delivery batch that carries it is a child of it and linked to every
// record of the batch (dead letters queued again by
// [Host.ReplayDeadLetters] or [Host.ReplayDeadLettersInto] carry the span
// of that call instead), and the trace goes on into the sink plugin's
// process and, for the LRS sink, to the LRS in a traceparent header.
// docs/operations.md lists the names and attributes. [WithMetrics] and
// [Metrics] are a deprecated adapter kept for one release.
package host
