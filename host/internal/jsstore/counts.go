package jsstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketCounts is the bucket of the delivery counts every instance saves.
const BucketCounts = "counts"

// Counts keeps the cumulative delivery counts of every instance in a
// bucket (BucketCounts): one value per organization, integration and
// instance, under "c.<org>.<sink>.<instance>" (each part escaped, or
// hashed when long), so that the counts of one integration or of one
// organization can be deleted together whichever instance wrote them.
// Values are opaque here; they should name their organization,
// integration and instance, since hashed keys cannot be decoded. Safe for
// concurrent use.
type Counts struct {
	b *Bucket
}

// Counts returns the bucket as a store of delivery counts.
func (b *Bucket) Counts() *Counts { return &Counts{b: b} }

func countKey(org, sink, instance string) string {
	return "c." + keyPart(org) + "." + keyPart(sink) + "." + keyPart(instance)
}

// Save stores the counts of one instance for one integration once the
// servers stored them.
func (c *Counts) Save(ctx context.Context, org, sink, instance string, value []byte) error {
	if _, err := c.b.kv.Put(ctx, countKey(org, sink, instance), value); err != nil {
		return fmt.Errorf("save delivery counts of %s/%s: %w", org, sink, err)
	}
	return nil
}

// RemoveInstance deletes the counts one instance saved for one
// integration.
func (c *Counts) RemoveInstance(ctx context.Context, org, sink, instance string) error {
	err := c.b.kv.Purge(ctx, countKey(org, sink, instance))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("remove delivery counts of %s/%s: %w", org, sink, err)
	}
	return nil
}

// Remove deletes the counts every instance saved for the integration sink
// of org, or for every integration of org when sink is empty, and
// returns how many values it deleted.
func (c *Counts) Remove(ctx context.Context, org, sink string) (int, error) {
	filter := "c." + keyPart(org) + ".>"
	if sink != "" {
		filter = "c." + keyPart(org) + "." + keyPart(sink) + ".*"
	}
	l, err := c.b.kv.ListKeysFiltered(ctx, filter)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("remove delivery counts of %s: %w", org, err)
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	_ = l.Stop()
	n := 0
	for _, k := range keys {
		if err := c.b.kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return n, fmt.Errorf("remove delivery counts of %s: %w", org, err)
		}
		n++
	}
	return n, nil
}

// List returns every value by key, as Watch names the keys.
func (c *Counts) List(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := c.watch(ctx, func(ch Change) {
		if ch.Value != nil {
			out[ch.Key] = ch.Value
		}
	}, true)
	if err != nil {
		return nil, fmt.Errorf("read delivery counts: %w", err)
	}
	return out, nil
}

// Watch calls fn with every current value and then every change, in
// order, until ctx ends. Change.Key is an opaque key, the same for every
// change of one value; Change.Value is nil when the value was removed. fn
// runs on one goroutine.
func (c *Counts) Watch(ctx context.Context, fn func(Change)) error {
	return c.watch(ctx, fn, false)
}

// watch calls fn with the current values and, unless initialOnly, with
// every change after them.
func (c *Counts) watch(ctx context.Context, fn func(Change), initialOnly bool) error {
	w, err := c.b.kv.Watch(ctx, "c.>")
	if err != nil {
		return err
	}
	return watchUpdates(ctx, w, initialOnly, func(k string) (string, bool) { return k, true }, fn)
}
