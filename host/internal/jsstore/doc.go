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
// holder that sees a gap in delivery sequences or whose connection came
// back after it broke, and once more when the first delivery after a
// reset was lost. Release keeps entries in the instance's buffer, so
// they come again before any later entry. A keepalive pulls for a holder
// whose worker is not calling Next (backing off, paused) so it keeps its
// pin, and marks held messages in progress so they are not redelivered
// after Config.AckWait.
//
// # Takeover
//
// A holder that dies loses its pin PinnedTTL after its last pull; the next
// pull of a waiting instance that finds statements pending gets them with
// a new pin, so the takeover comes within PinnedTTL plus one pull interval
// (pollEvery). When nothing else is pending, no pull would get anything
// before AckWait: only then does a waiting instance reset the consumer
// (see orphaned), and the first to pull afterwards becomes the holder.
//
// Pins are not replicated: a consumer whose leader went away with its
// server has no holder under its next leader, elected by the servers 4 to
// 9 s later (raft's election timeout in nats-server; twice that when the
// first candidate's log is behind). A holder learns it
// from the answers to its pulls and acknowledgements (409 Leadership
// Change, 503 no responders, 423 pin mismatch): it stops handing out,
// drops what it buffered, and every instance pulls again as soon as the
// new leader answers, so delivery resumes right after the election.
//
// Duplicates: a statement is handed out again only if it was handed out
// and not acknowledged by (1) an instance that died, or (2) the holder of
// an integration whose consumer leader went away with a server, between
// shortly before that and the moment the holder learned it (its next
// acknowledgement, pull or reconnection), when the next leader pins
// another instance. A waiting instance's reset never resends a live
// holder's batch: it happens only in the state above, and an instance
// that gets back a statement it acknowledged (its acknowledgement did not
// take, after a reset or a leader change) acknowledges it again instead
// of handing it out.
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
// removing one deletes its state) and live status (BucketStatus, with a
// TTL). The small
// interfaces in interfaces.go say what the host needs of each; adapting
// the host's own seams to them is meant to be a thin layer.
//
// Nothing in this package starts a NATS server; tests embed one through
// the jstest package.
package jsstore
