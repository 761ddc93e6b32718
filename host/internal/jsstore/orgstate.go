package jsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// OrgState keeps the normalizer's state (SCORM attempts) in a bucket, per
// organization: under "o<org>.<key>", so that every key of an
// organization can be deleted when it is removed. Its Load and Save match
// the normalizer's state store. Safe for concurrent use.
//
// State saved before it was kept per organization (under the key alone)
// is still read, and moved under its organization on first use, except
// for an organization removed since: it starts from scratch.
type OrgState struct {
	b *Bucket
}

// OrgState returns the bucket as a per-organization state store.
func (b *Bucket) OrgState() *OrgState { return &OrgState{b: b} }

// keyPart escapes s as one token of a bucket key, or hashes it when long.
// The "e" and "h" prefixes keep both forms apart.
func keyPart(s string) string {
	k := escape(s)
	if len(k) <= 100 {
		return "e" + k
	}
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:])
}

func orgStateKey(org, key string) string { return "o" + keyPart(org) + "." + keyPart(key) }

// freshKey marks an organization removed since state was kept per
// organization: legacy keys are not its own.
func freshKey(org string) string { return "m" + keyPart(org) }

func (s *OrgState) get(ctx context.Context, k string) ([]byte, bool, error) {
	e, err := s.b.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return e.Value(), true, nil
}

// Load returns the state saved under key for org; found is false when
// there is none.
func (s *OrgState) Load(ctx context.Context, org, key string) ([]byte, bool, error) {
	v, found, err := s.get(ctx, orgStateKey(org, key))
	if err != nil || found {
		return v, found, err
	}
	old := bucketKey(key)
	v, found, err = s.get(ctx, old)
	if err != nil || !found {
		return nil, false, err
	}
	if _, fresh, err := s.get(ctx, freshKey(org)); err != nil || fresh {
		return nil, false, err
	}
	if _, err := s.b.kv.Put(ctx, orgStateKey(org, key), v); err != nil {
		return nil, false, err
	}
	if err := s.b.kv.Delete(ctx, old); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, err
	}
	return v, true, nil
}

// Save stores value under key for org once the servers stored it.
func (s *OrgState) Save(ctx context.Context, org, key string, value []byte) error {
	_, err := s.b.kv.Put(ctx, orgStateKey(org, key), value)
	return err
}

// Export calls fn with the bucket key and the value of every state of org
// (not legacy state kept under the key alone), in key order, so that an
// instance can archive them before RemoveOrg; it stops at fn's first
// error and returns it.
func (s *OrgState) Export(ctx context.Context, org string, fn func(key string, value []byte) error) error {
	keys, err := s.orgKeys(ctx, org)
	if err != nil {
		return fmt.Errorf("read scorm state of %s: %w", org, err)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, found, err := s.get(ctx, k)
		if err != nil {
			return fmt.Errorf("read scorm state of %s: %w", org, err)
		}
		if !found {
			continue // deleted meanwhile
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// orgKeys lists the bucket keys of org's states.
func (s *OrgState) orgKeys(ctx context.Context, org string) ([]string, error) {
	l, err := s.b.kv.ListKeysFiltered(ctx, "o"+keyPart(org)+".>")
	if err != nil {
		return nil, err
	}
	defer l.Stop()
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// RemoveOrg deletes every state of org and marks org so that legacy state
// is no longer read for it; it returns how many states it deleted.
func (s *OrgState) RemoveOrg(ctx context.Context, org string) (int, error) {
	if _, err := s.b.kv.Put(ctx, freshKey(org), []byte{1}); err != nil {
		return 0, fmt.Errorf("remove scorm state of %s: %w", org, err)
	}
	keys, err := s.orgKeys(ctx, org)
	if err != nil {
		return 0, fmt.Errorf("remove scorm state of %s: %w", org, err)
	}
	n := 0
	for _, k := range keys {
		if err := s.b.kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return n, fmt.Errorf("remove scorm state of %s: %w", org, err)
		}
		n++
	}
	return n, nil
}
