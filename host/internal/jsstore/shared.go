package jsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is a statement set aside for an integration, as the shared
// dead-letter store keeps it. It mirrors the host's DeadLetter.
type DeadLetter struct {
	ID          string          `json:"id"`
	Org         string          `json:"org"`
	Sink        string          `json:"sink"`
	StatementID string          `json:"statement_id"`
	Class       string          `json:"class"`
	Reason      string          `json:"reason"`
	Time        time.Time       `json:"time"`
	Recorded    time.Time       `json:"recorded"`
	Statement   json.RawMessage `json:"statement"`
}

// DeadLetters is the shared dead-letter store: one message per dead letter
// in the stream <Stream>_DLQ on subject <prefix>dl.<org>.<sink>, so that
// every instance lists, replays and purges the same set. Safe for
// concurrent use.
type DeadLetters struct {
	s      *Store
	stream jetstream.Stream
}

// DeadLetters creates (or verifies) the dead-letter stream and returns
// the store.
func (s *Store) DeadLetters(ctx context.Context) (*DeadLetters, error) {
	sc := jetstream.StreamConfig{
		Name:        s.names.dlqStream(),
		Description: "lrsbridge dead letters",
		Subjects:    []string{s.cfg.SubjectPrefix + "dl.>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
		Duplicates:  s.cfg.DuplicateWindow,
	}
	if err := s.setupStream(ctx, sc); err != nil {
		return nil, err
	}
	st, err := s.js.Stream(ctx, sc.Name)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter stream: %w", err)
	}
	return &DeadLetters{s: s, stream: st}, nil
}

// Add stores dead letters of org; it returns once the servers stored
// them, so the caller may then acknowledge the queue entries. The message
// id is the dead letter's id: adding the same dead letter twice (a retry)
// within the duplicate window stores it once.
func (d *DeadLetters) Add(ctx context.Context, org string, list []DeadLetter) error {
	for _, dl := range list {
		subj, err := d.s.names.dlqSubject(org, dl.Sink)
		if err != nil {
			return fmt.Errorf("dead-letter for %s: %w", org, err)
		}
		b, err := json.Marshal(dl)
		if err != nil {
			return err
		}
		if _, err := d.s.js.Publish(ctx, subj, b, jetstream.WithMsgID("dl."+dl.ID)); err != nil {
			return fmt.Errorf("store dead letter of %s/%s: %w", org, dl.Sink, err)
		}
	}
	return nil
}

type storedDL struct {
	seq  uint64
	dl   DeadLetter
	dups []uint64 // later copies read could not delete
}

// read returns the dead letters of org (of one integration when sink is
// not empty), oldest first, each id once.
//
// The message id makes a dead letter added twice within the duplicate
// window one message, but not later: an instance that takes an
// integration over after the window, and is refused the same entry again
// (its predecessor stored the dead letter and died before acknowledging
// the entry), stores a second copy under the same id. read keeps the
// oldest copy and deletes the later ones, so that they are listed,
// replayed and counted once from then on; a copy that cannot be deleted
// now is noted in dups (Remove deletes it with the oldest) and tried again
// at the next read.
func (d *DeadLetters) read(ctx context.Context, org, sink string) ([]storedDL, error) {
	filter := d.s.cfg.SubjectPrefix + "dl." + escape(org) + ".>"
	if sink != "" {
		var err error
		if filter, err = d.s.names.dlqSubject(org, sink); err != nil {
			return nil, err
		}
	}
	var out []storedDL
	first := map[string]int{} // id -> index in out
	for seq := uint64(1); ; {
		m, err := d.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
		}
		seq = m.Sequence + 1
		var dl DeadLetter
		if err := json.Unmarshal(m.Data, &dl); err != nil {
			continue
		}
		if i, ok := first[dl.ID]; ok {
			// Another instance may be deleting it too: not found is fine.
			if err := d.stream.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				out[i].dups = append(out[i].dups, m.Sequence)
			}
			continue
		}
		first[dl.ID] = len(out)
		out = append(out, storedDL{seq: m.Sequence, dl: dl})
	}
}

// List returns the dead letters of org (of one integration when sink is
// not empty), oldest first; with limit > 0 only the newest limit.
func (d *DeadLetters) List(ctx context.Context, org, sink string, limit int) ([]DeadLetter, error) {
	all, err := d.read(ctx, org, sink)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(all) > limit {
		all = all[len(all)-limit:]
	}
	out := make([]DeadLetter, len(all))
	for i, s := range all {
		out[i] = s.dl
	}
	return out, nil
}

// Remove deletes the dead letters of org matching sink (all when empty)
// and ids (all when empty) and returns them. Replay appends them to the
// queue first and removes them after, so a crash in between leaves them
// queued and still listed, never lost.
func (d *DeadLetters) Remove(ctx context.Context, org, sink string, ids []string) ([]DeadLetter, error) {
	all, err := d.read(ctx, org, sink)
	if err != nil {
		return nil, err
	}
	var removed []DeadLetter
	for _, s := range all {
		if len(ids) > 0 && !slices.Contains(ids, s.dl.ID) {
			continue
		}
		for _, seq := range append(s.dups, s.seq) { // the oldest last: a failure leaves it listed
			if err := d.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return removed, fmt.Errorf("remove dead letter %s of %s: %w", s.dl.ID, org, err)
			}
		}
		removed = append(removed, s.dl)
	}
	return removed, nil
}

// Counts returns the number of dead letters per integration of org, from
// the stream's message counts: a second copy of a dead letter (see read)
// counts until a List or Remove of the org deletes it.
func (d *DeadLetters) Counts(ctx context.Context, org string) (map[string]int, error) {
	prefix := d.s.cfg.SubjectPrefix + "dl"
	info, err := d.stream.Info(ctx, jetstream.WithSubjectFilter(prefix+"."+escape(org)+".>"))
	if err != nil {
		return nil, fmt.Errorf("count dead letters of %s: %w", org, err)
	}
	out := map[string]int{}
	for subj, n := range info.State.Subjects {
		_, sink, err := d.s.names.parseSubject(prefix, subj)
		if err == nil && n > 0 {
			out[sink] = int(n)
		}
	}
	return out, nil
}

// Bucket is a shared key-value bucket: saved organizations and
// integrations (<Stream>_config), normalizer state (<Stream>_state) and
// live status (<Stream>_status). Keys may be any string: they are stored
// escaped. Safe for concurrent use.
type Bucket struct {
	kv jetstream.KeyValue
}

// Buckets the backend keeps beside the queue stream.
const (
	BucketConfig = "config" // saved orgs and integrations, watched by every instance
	BucketState  = "state"  // normalizer (SCORM attempt) state
	BucketStatus = "status" // per-integration status written by the delivering instance
)

// Bucket creates (or opens) the bucket <Stream>_<name>. ttl > 0 expires
// values not written for that long (for status).
func (s *Store) Bucket(ctx context.Context, name string, ttl time.Duration) (*Bucket, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:   s.cfg.Stream + "_" + name,
		Storage:  jetstream.FileStorage,
		Replicas: s.cfg.Replicas,
		TTL:      ttl,
	}
	var kv jetstream.KeyValue
	var err error
	if s.cfg.create() {
		for {
			kv, err = s.js.CreateOrUpdateKeyValue(ctx, cfg)
			if err == nil || !clusterForming(err) {
				break
			}
			select { // a cluster still forming: wait for it within ctx
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
				continue
			}
			break
		}
	} else {
		kv, err = s.js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", cfg.Bucket, err)
	}
	return &Bucket{kv: kv}, nil
}

// bucketKey maps any key to a valid one: short keys escaped, long ones
// hashed.
func bucketKey(key string) string {
	k := escape(key)
	if len(k) <= 200 {
		return "k" + k
	}
	sum := sha256.Sum256([]byte(key))
	return "h" + hex.EncodeToString(sum[:])
}

// Load returns the value of key; found is false when there is none.
func (b *Bucket) Load(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := b.kv.Get(ctx, bucketKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return e.Value(), true, nil
}

// Save stores value under key once the servers stored it.
func (b *Bucket) Save(ctx context.Context, key string, value []byte) error {
	_, err := b.kv.Put(ctx, bucketKey(key), value)
	return err
}

// Delete removes key.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	err := b.kv.Delete(ctx, bucketKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// Change is one update seen by Watch. Value is nil when the key was
// deleted.
type Change struct {
	Key   string
	Value []byte
}

// Watch calls fn with every current value and then every change, in
// order, until ctx ends: how an organization or integration saved on one
// instance becomes active on all. fn runs on one goroutine.
func (b *Bucket) Watch(ctx context.Context, fn func(Change)) error {
	w, err := b.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	return watchUpdates(ctx, w, false, func(k string) (string, bool) {
		key, err := unescape(k[1:])
		// Hashed keys cannot be decoded; they are not watched.
		return key, k[0] == 'k' && err == nil
	}, fn)
}

// watchUpdates calls fn with the entries of w, the current values first,
// as Changes (Value nil for a removal) named by key, skipping those key
// refuses, until ctx ends; with initialOnly it returns once the current
// values are done. It stops w.
func watchUpdates(ctx context.Context, w jetstream.KeyWatcher, initialOnly bool, key func(string) (string, bool), fn func(Change)) error {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil {
				if initialOnly {
					return nil
				}
				continue // end of the current values
			}
			k, ok := key(e.Key())
			if !ok {
				continue
			}
			c := Change{Key: k}
			if e.Operation() == jetstream.KeyValuePut {
				c.Value = e.Value()
			}
			fn(c)
		}
	}
}
