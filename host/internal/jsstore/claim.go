package jsstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// claims lets one waiting instance, not all of them, reset a consumer
// whose holder died: each instance that finds the same orphaned state
// (consumer, ack floor, last delivery) tries to create the same key, and
// only the one that creates it resets. Without it, every waiting instance
// resets, and the reset of a late one sends the new holder's batch in
// flight again (a duplicate delivery that no instance died for).
type claims struct {
	once sync.Once
	kv   jetstream.KeyValue // nil when the bucket cannot be had
}

// claim reports whether this instance may reset the consumer cname in the
// state described by floor and delivered. When the claims bucket cannot be
// used it answers true: a duplicate delivery is better than statements
// waiting for AckWait.
func (s *Store) claim(ctx context.Context, cname string, floor, delivered uint64) bool {
	s.claims.once.Do(func() {
		cfg := jetstream.KeyValueConfig{
			Bucket:   s.cfg.Stream + "_claims",
			Storage:  jetstream.FileStorage,
			Replicas: s.cfg.Replicas,
			TTL:      2 * s.cfg.PinnedTTL,
		}
		var kv jetstream.KeyValue
		var err error
		if s.cfg.create() {
			kv, err = s.js.CreateOrUpdateKeyValue(ctx, cfg)
		} else {
			kv, err = s.js.KeyValue(ctx, cfg.Bucket)
		}
		if err != nil {
			s.log.Warn("the claims bucket cannot be used; waiting instances may all reset an orphaned consumer", "bucket", cfg.Bucket, "err", err)
			return
		}
		s.claims.kv = kv
	})
	if s.claims.kv == nil {
		return true
	}
	key := bucketKey(fmt.Sprintf("%s.%d.%d", cname, floor, delivered))
	_, err := s.claims.kv.Create(ctx, key, []byte(s.cfg.Instance))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false
	}
	return true
}
