package jsstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// twoDeadLetterStores returns the dead-letter stores of two instances
// sharing the servers of cfg.
func twoDeadLetterStores(t *testing.T, cfg jsstore.Config) (a, b *jsstore.DeadLetters) {
	t.Helper()
	var err error
	if a, err = openStore(t, cfg).DeadLetters(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err = openStore(t, cfg).DeadLetters(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestDeadLettersShared adds dead letters through one instance and lists,
// counts and removes them through another.
func TestDeadLettersShared(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	ctx := context.Background()
	a, b := twoDeadLetterStores(t, testConfig(srv.URL()))
	now := time.Now().UTC().Truncate(time.Millisecond)
	dl := func(id, sink string) jsstore.DeadLetter {
		return jsstore.DeadLetter{ID: id, Org: "acme.corp", Sink: sink, StatementID: "st-" + id, Class: "rejected",
			Reason: "400 bad statement", Time: now, Recorded: now, Statement: json.RawMessage(`{"id":"st-` + id + `"}`)}
	}
	list := []jsstore.DeadLetter{dl("d1", "lrs"), dl("d2", "archive"), dl("d3", "lrs")}
	if err := a.Add(ctx, "acme.corp", list); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, "acme.corp", list[:1]); err != nil { // a retry: stored once
		t.Fatal(err)
	}
	// The same dead letter from another instance (the one that took the
	// integration over and was refused the same entry again; the host
	// derives dead-letter ids from the entry): stored once too.
	if err := b.Add(ctx, "acme.corp", list[:1]); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, "other", []jsstore.DeadLetter{dl("x1", "lrs")}); err != nil {
		t.Fatal(err)
	}
	got, err := b.List(ctx, "acme.corp", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list, got); diff != "" {
		t.Errorf("List from the other instance (-want +got):\n%s", diff)
	}
	counts, err := b.Counts(ctx, "acme.corp")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"lrs": 2, "archive": 1}, counts); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	removed, err := b.Remove(ctx, "acme.corp", "lrs", []string{"d3"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]jsstore.DeadLetter{list[2]}, removed); diff != "" {
		t.Errorf("Remove (-want +got):\n%s", diff)
	}
	got, err = a.List(ctx, "acme.corp", "lrs", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list[:1], got); diff != "" {
		t.Errorf("List after Remove (-want +got):\n%s", diff)
	}
	// A replayed dead letter that fails again gets a new id and is stored
	// again, never dropped as a duplicate.
	again := list[2]
	again.ID = "d3-again"
	if err := a.Add(ctx, "acme.corp", []jsstore.DeadLetter{again}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.List(ctx, "acme.corp", "lrs", 1); len(got) != 1 || got[0].ID != "d3-again" {
		t.Errorf("newest dead letter = %+v, want d3-again", got)
	}
}

// TestDeadLettersCopyAfterWindow: the same dead letter stored again after
// the duplicate window (an instance that took the integration over late
// and was refused the same entry) is listed, counted and removed once.
func TestDeadLettersCopyAfterWindow(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	cfg.DuplicateWindow = time.Second
	cfg.PublishTimeout = 500 * time.Millisecond
	ctx := context.Background()
	a, b := twoDeadLetterStores(t, cfg)
	now := time.Now().UTC().Truncate(time.Millisecond)
	dl := jsstore.DeadLetter{ID: "d1", Org: "acme", Sink: "lrs", StatementID: "st-1", Class: "rejected",
		Reason: "400 bad statement", Time: now, Recorded: now, Statement: json.RawMessage(`{"id":"st-1"}`)}
	other := dl
	other.ID, other.StatementID, other.Statement = "d2", "st-2", json.RawMessage(`{"id":"st-2"}`)
	// copies adds dl through b until the stream holds want messages for
	// the integration: the servers forget a message id some time after
	// the window.
	copies := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if err := b.Add(ctx, "acme", []jsstore.DeadLetter{dl}); err != nil {
				t.Fatal(err)
			}
			counts, err := b.Counts(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if counts["lrs"] >= want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the stream holds %d messages after 20s; want %d", counts["lrs"], want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if err := a.Add(ctx, "acme", []jsstore.DeadLetter{dl, other}); err != nil {
		t.Fatal(err)
	}
	copies(3) // dl twice, other once
	got, err := a.List(ctx, "acme", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]jsstore.DeadLetter{dl, other}, got); diff != "" {
		t.Errorf("List with a second copy stored (-want +got):\n%s", diff)
	}
	if counts, err := b.Counts(ctx, "acme"); err != nil || counts["lrs"] != 2 {
		t.Errorf("Counts after List = %v, %v; want lrs: 2 (the copy deleted)", counts, err)
	}
	copies(3)
	removed, err := a.Remove(ctx, "acme", "lrs", []string{"d1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]jsstore.DeadLetter{dl}, removed); diff != "" {
		t.Errorf("Remove of a dead letter stored twice (-want +got):\n%s", diff)
	}
	got, err = b.List(ctx, "acme", "lrs", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]jsstore.DeadLetter{other}, got); diff != "" {
		t.Errorf("List after Remove (-want +got):\n%s", diff)
	}
}

// TestBucketWatch saves a value on one instance and sees it on another
// through Watch; Load and Save work across instances.
func TestBucketWatch(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := openStore(t, cfg).Bucket(ctx, jsstore.BucketConfig, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openStore(t, cfg).Bucket(ctx, jsstore.BucketConfig, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(ctx, "org/acme.corp", []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	changes := make(chan jsstore.Change, 10)
	done := make(chan error, 1)
	go func() { done <- b.Watch(ctx, func(c jsstore.Change) { changes <- c }) }()
	if diff := cmp.Diff(jsstore.Change{Key: "org/acme.corp", Value: []byte(`{"v":1}`)}, <-changes); diff != "" {
		t.Errorf("initial value (-want +got):\n%s", diff)
	}
	if err := a.Save(ctx, "int/acme.corp/lrs", []byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsstore.Change{Key: "int/acme.corp/lrs", Value: []byte(`{"v":2}`)}, <-changes); diff != "" {
		t.Errorf("saved on the other instance (-want +got):\n%s", diff)
	}
	if err := a.Delete(ctx, "org/acme.corp"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsstore.Change{Key: "org/acme.corp"}, <-changes); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	v, found, err := b.Load(ctx, "int/acme.corp/lrs")
	if err != nil || !found || string(v) != `{"v":2}` {
		t.Errorf("Load = %q, %v, %v", v, found, err)
	}
	if _, found, err := b.Load(ctx, "org/acme.corp"); err != nil || found {
		t.Errorf("Load of a deleted key: found %v, err %v", found, err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel = %v, want context.Canceled", err)
	}
}
