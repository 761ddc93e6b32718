package jsstore_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// TestCounts saves counts of several organizations, integrations and
// instances (ids that are prefixes of others, with dots, and too long to
// escape), removes them by instance, by integration and by organization,
// and checks that List and a Watch started before see exactly what is
// left, and nothing of another organization or integration goes.
func TestCounts(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	ctx := context.Background()
	b, err := openStore(t, testConfig(srv.URL())).Bucket(ctx, jsstore.BucketCounts, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := b.Counts()

	// A watch started first sees every value and every removal.
	var mu sync.Mutex
	watched := map[string]string{}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Watch(wctx, func(ch jsstore.Change) {
			mu.Lock()
			defer mu.Unlock()
			if ch.Value == nil {
				delete(watched, ch.Key)
				return
			}
			watched[ch.Key] = string(ch.Value)
		})
	}()
	t.Cleanup(func() { cancel(); <-done })

	long := strings.Repeat("x", 300)
	type ref struct{ org, sink, inst string }
	all := []ref{
		{"acme", "lrs", "a"}, {"acme", "lrs", "b"}, {"acme", "lrs-2", "a"}, {"acme", long, "a"},
		{"acme.corp", "lrs", "a"}, {"acme.corp", "lrs", long}, {"Globex/EU", "lrs", "a"},
	}
	for _, r := range all {
		if err := c.Save(ctx, r.org, r.sink, r.inst, []byte(r.org+"|"+r.sink+"|"+r.inst)); err != nil {
			t.Fatalf("Save(%v): %v", r, err)
		}
	}
	// Saving again replaces the value.
	if err := c.Save(ctx, "acme", "lrs", "a", []byte("acme|lrs|a")); err != nil {
		t.Fatal(err)
	}
	values := func() []string {
		t.Helper()
		m, err := c.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var out []string
		for _, v := range m {
			out = append(out, string(v))
		}
		slices.Sort(out)
		return out
	}
	want := func(rs ...ref) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.org+"|"+r.sink+"|"+r.inst)
		}
		slices.Sort(out)
		return out
	}
	check := func(step string, rs ...ref) {
		t.Helper()
		if diff := cmp.Diff(want(rs...), values()); diff != "" {
			t.Errorf("%s: values listed (-want +got):\n%s", step, diff)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			var got []string
			for _, v := range watched {
				got = append(got, v)
			}
			mu.Unlock()
			slices.Sort(got)
			diff := cmp.Diff(want(rs...), got)
			if diff == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: values watched (-want +got):\n%s", step, diff)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	check("saved", all...)

	if err := c.RemoveInstance(ctx, "acme", "lrs", "b"); err != nil {
		t.Fatal(err)
	}
	check("one instance's value removed", all[0], all[2], all[3], all[4], all[5], all[6])

	if n, err := c.Remove(ctx, "acme", "lrs"); err != nil || n != 1 {
		t.Fatalf("Remove(acme, lrs) = %d, %v; want 1", n, err)
	}
	check("one integration removed", all[2], all[3], all[4], all[5], all[6])

	if n, err := c.Remove(ctx, "acme", long); err != nil || n != 1 {
		t.Fatalf("Remove(acme, long id) = %d, %v; want 1", n, err)
	}
	check("a hashed integration removed", all[2], all[4], all[5], all[6])

	if n, err := c.Remove(ctx, "acme.corp", ""); err != nil || n != 2 {
		t.Fatalf("Remove(acme.corp) = %d, %v; want 2", n, err)
	}
	check("an organization removed", all[2], all[6])

	if n, err := c.Remove(ctx, "nobody", ""); err != nil || n != 0 {
		t.Errorf("Remove of an organization without counts = %d, %v; want 0, nil", n, err)
	}
	if err := c.RemoveInstance(ctx, "nobody", "lrs", "a"); err != nil {
		t.Errorf("RemoveInstance of nothing: %v", err)
	}
	check("nothing else removed", all[2], all[6])
}
