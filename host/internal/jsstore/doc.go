// Package jsstore is lrsbridge's shared backend on NATS JetStream, for
// deployments where several LearningFlow instances embed the host: their
// queues, dead letters, saved settings, normalizer state and status live
// on a JetStream cluster instead of each instance's data directory.
//
// # Queues
//
// Store has the methods of the file store (Queue, Remove, Queues, Close)
// and its queues implement queue.Queue, checked by the shared contract
// suite (host/internal/queue/queuetest). Layout:
//
//   - one WorkQueue stream (Config.Stream) with subjects
//     <prefix>.<org>.<sink>, org and sink escaped (bytes outside
//     [a-z0-9-] become _hh), so a statement leaves the stream when it is
//     acknowledged and the stream holds exactly what is pending;
//   - one durable pull consumer per queue, filtered on its subject, with
//     the pinned-client priority policy: the servers hand an
//     integration's statements to one instance (the holder) at a time. A
//     holder that closes lets go at once; one that dies loses its pin
//     after Config.PinnedTTL without pulling, and a waiting instance
//     takes over.
//
// Recording: Append publishes one statement as a plain publish and
// several as one atomic batch (all or nothing), with message ids made of a
// random nonce per call and the item's index, so a retried publish is
// recognised by the servers (stored once) while a dead-letter replay,
// being a new call, is never dropped as a duplicate. It returns once the
// servers acknowledged (with replicas, once a majority stored it). Quotas:
// per queue (max messages per subject, discard new per subject) and in
// total (stream max bytes) by the servers; per organization by each
// instance against counts at most a second old.
//
// Delivery order with one batch in flight (delivery.parallel 1) holds
// across takeovers by two rules, see jsQueue: a new holder resets the
// consumer to its ack floor before handing anything out, and so does a
// holder that sees a gap in delivery sequences. Release keeps entries in
// the instance's buffer, so they come again before any later entry. A
// keepalive pulls for a holder whose worker is not calling Next (backing
// off, paused) so it keeps its pin, and marks held messages in progress
// so they are not redelivered after Config.AckWait. A waiting instance
// that finds a consumer unpinned with statements handed out (its holder
// died with nothing behind them) resets it, so they are delivered again
// within about PinnedTTL rather than AckWait.
//
// Differences from the file store the host must allow for: Entry.Seq is
// the stream sequence, unique and increasing within a queue but not dense;
// Stats.PendingBytes is approximate (pending count times the stream's mean
// message size) and Stats is read from the servers, cached 250 ms; the
// queue and organization quotas count statements, not bytes; an Append
// takes at most 1,000 statements (the servers' atomic batch limit, else
// queue.ErrTooLarge); Ack returns once the servers applied it.
//
// # Shared state
//
// DeadLetters keeps dead letters in the stream <Stream>_DLQ, one message
// per dead letter; Bucket is a key-value bucket with Watch, used for
// saved organizations and integrations (BucketConfig), normalizer state
// (BucketState, through [Bucket.OrgState], keyed per organization so that
// removing one deletes its state), live status (BucketStatus, with a
// TTL) and every instance's delivery counts (BucketCounts, through
// [Bucket.Counts], keyed per organization, integration and instance). The small
// interfaces in interfaces.go say what the host needs of each; adapting
// the host's own seams to them is meant to be a thin layer.
//
// Nothing in this package starts a NATS server; tests embed one through
// the jstest package.
package jsstore
