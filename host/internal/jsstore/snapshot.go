package jsstore

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// Snapshot returns every current value of the bucket by key, for the
// host's start (Watch then delivers them again, with every later change).
// Hashed keys, which cannot be decoded, are left out.
func (b *Bucket) Snapshot(ctx context.Context) (map[string][]byte, error) {
	w, err := b.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watch ended")
			}
			if e == nil {
				return out, nil // end of the current values
			}
			key, err := unescape(e.Key()[1:])
			if e.Key()[0] != 'k' || err != nil {
				continue
			}
			out[key] = e.Value()
		}
	}
}
