// Package delivery is the host's delivery engine: one Worker per
// integration takes batches from the integration's queue, hands them to the
// sink instance through a circuit breaker, up to Settings.Parallel batches
// at a time, and settles every statement by its verdict: acknowledged when
// delivered or already stored, dead-lettered when rejected permanently or
// expired, handed back for a retry with backoff (honouring Retry-After)
// otherwise, and the integration paused on rejected credentials or
// configuration.
//
// The breaker's refusals are not delivery failures: while it is open the
// worker waits for it without backing off further, while it is half-open it
// sends exactly one probe batch, and once the probe succeeds the backlog
// drains at full speed.
//
// A Worker depends only on what it is given: a queue.Queue, a Connector
// that configures its sink instance (a plugin process in the host, an
// in-process sdk.Provider in tests), a DeadLetters store and a Metrics
// receiver.
package delivery
