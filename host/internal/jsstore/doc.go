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
//   - one WorkQueue stream (Config.Stream); a queue's messages are on
//     <prefix>.<org>.<sink>.<n>, org and sink escaped (bytes outside
//     [a-z0-9-] become _hh) and n the number of statements in the
//     message, so a message leaves the stream when its last statement is
//     acknowledged, the stream holds exactly what is pending, and the
//     servers' message counts per subject give the statements pending.
//     Messages written before group commit (one statement each, on
//     <prefix>.<org>.<sink>, without the Lrs-Format header) are still
//     read;
//   - one durable pull consumer per queue, filtered on its subject, with
//     the pinned-client priority policy: the servers hand an
//     integration's statements to one instance (the holder) at a time. A
//     holder that closes lets go at once; one that dies loses its pin
//     after Config.PinnedTTL without pulling, and a waiting instance
//     takes over.
//
// Recording (group commit): concurrent Appends to one queue share one
// message. While a queue's message is being stored, the Appends that
// arrive wait together and go out as the next message, whole calls only,
// up to 1,000 statements and the servers' max_payload; after a message,
// the next one waits a moment (at most half the time the last took, 1 ms)
// for the producers just answered, so that they share it rather than take
// turns. A lone Append is published at once. A message frames its
// statements (id, tag, span context, JSON; header Lrs-Format: 2, see
// encodeItems). An Append too large for one message is published alone,
// as one atomic batch of several (all or nothing). Message ids are a
// random nonce per message (and its index in an atomic batch), so a
// retried publish is recognised by the servers (stored once) while a
// dead-letter replay, being a new Append, is never dropped as a
// duplicate. Every Append returns once the message holding its statements
// is acknowledged by the servers (with replicas, once a majority stored
// it), with that publish's error if it failed; when the servers refuse a
// shared message for a limit, each of its Appends is published alone, so
// that each keeps its own outcome. Quotas count statements: per queue
// and per organization by each instance, against counts read from the
// servers (at most a second old once an Append would take a count past
// half its quota, at most 30 s below that) plus this instance's Appends
// and acknowledgements since, so concurrent Appends of one instance never
// overshoot them and other instances' may, by what they append meanwhile;
// in total (stream max bytes) by the servers.
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
// Delivery: a message becomes as many queue entries as it holds
// statements. Next hands out whole messages while they fit its limits and
// splits only a first message larger than them (at least one entry); the
// message is acknowledged to the servers with its last entry, and
// Release puts entries back before later ones. A message that cannot be
// read (a damaged or unknown format) is logged with its queue and stream
// sequence (CorruptMessageError), not handed out and left in the stream.
//
// Differences from the file store the host must allow for: Entry.Seq is
// the stream sequence times 1,024 plus the statement's index in its
// message, unique and increasing within a queue but not dense; Stats is
// read from the servers, cached 250 ms, and counts a message's statements
// until its last one is acknowledged; Stats.PendingBytes is approximate
// (pending messages times the stream's mean message size); the queue and
// organization quotas count statements, not bytes; an Append takes at
// most 1,000 statements (else queue.ErrTooLarge); Ack returns once the
// servers applied it. Delivery is at least once: when an instance stops
// or dies holding a message of which it acknowledged some statements
// (because Next split it, or the host acknowledged part of a batch), the
// next holder gets the whole message again, those statements included;
// the LRS recognises them by their ids. A statement it refused is
// refused again; the host derives the dead letter's id from the entry
// (deadletter.EntryID), so DeadLetters stores it once within the duplicate
// window.
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
