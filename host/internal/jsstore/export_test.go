package jsstore

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Kill stops the store as a crashed instance would: the connection goes
// away without handing anything back or letting go of any integration.
func (s *Store) Kill() {
	s.nc.Close()
}

// ConsumerName exposes the durable consumer name of a queue.
func ConsumerName(org, sink string) string { return consumerName(org, sink) }

// PollEvery exposes the pull and orphan-check interval for a pinned TTL.
func PollEvery(ttl time.Duration) time.Duration { return pollEvery(ttl) }

// Orphaned exposes the check that makes a waiting instance reset a
// consumer.
func Orphaned(info *jetstream.ConsumerInfo) bool { return orphaned(info) }

// ErrNoLeader is the error of an acknowledgement no consumer leader took.
var ErrNoLeader = errNoLeader

// ForceReconnect drops the store's connection and connects again, as when
// its server went away.
func (s *Store) ForceReconnect() error { return s.nc.ForceReconnect() }

// RetryEvery exposes how soon a pull is repeated while a consumer has no
// leader.
func RetryEvery(every time.Duration) time.Duration { return retryEvery(every) }
