package deadletter

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListAfterATornAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := New(t.TempDir())
	if err := d.Add(ctx, "acme", []Letter{{Sink: "lrs", StatementID: "a", Class: ClassRejected}}); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of the next append left half a line.
	f, err := os.OpenFile(d.file("acme"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"x","org":"acme","sink":"lrs","statement_id":"b"`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := d.Add(ctx, "acme", []Letter{{Sink: "lrs", StatementID: "c", Class: ClassRejected}}); err != nil {
		t.Fatal(err)
	}
	list, err := d.List(ctx, "acme", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, dl := range list {
		ids = append(ids, dl.StatementID)
	}
	if diff := cmp.Diff([]string{"a", "c"}, ids); diff != "" {
		t.Errorf("dead letters after a torn append (-want +got):\n%s", diff)
	}
}

func TestCountsFollowAddAndRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := New(t.TempDir())
	counts := func(d *Dir) map[string]int {
		t.Helper()
		c, err := d.Counts(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := d.Add(ctx, "acme", []Letter{{Sink: "lrs"}, {Sink: "lrs"}, {Sink: "archive"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"lrs": 2, "archive": 1}, counts(d)); diff != "" {
		t.Errorf("counts after add (-want +got):\n%s", diff)
	}
	if err := d.Add(ctx, "acme", []Letter{{Sink: "archive"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Remove(ctx, "acme", Filter{Sink: "lrs"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"lrs": 0, "archive": 2}, counts(d)); diff != "" {
		t.Errorf("cached counts (-want +got):\n%s", diff)
	}
	// A fresh store reading the file agrees with the cache.
	if fresh := counts(New(d.dir)); fresh["lrs"] != 0 || fresh["archive"] != 2 {
		t.Errorf("counts read from the file = %v, want archive 2 and no lrs", fresh)
	}
}
