package jsstore_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

func TestBucketSnapshot(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	ctx := context.Background()
	b, err := openStore(t, cfg).Bucket(ctx, jsstore.BucketConfig, 0)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := b.Snapshot(ctx)
	if err != nil || len(empty) != 0 {
		t.Fatalf("Snapshot of an empty bucket = %v, %v; want nothing", empty, err)
	}
	for key, v := range map[string]string{"org/acme.corp": "1", "int/acme.corp/lrs": "2", "org/gone": "3"} {
		if err := b.Save(ctx, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Save(ctx, "org/acme.corp", []byte("4")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "org/gone"); err != nil {
		t.Fatal(err)
	}
	got, err := b.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"org/acme.corp": []byte("4"), "int/acme.corp/lrs": []byte("2")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}
