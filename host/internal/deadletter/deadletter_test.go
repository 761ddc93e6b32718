package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk/xapi"
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
	if n, err := d.Remove(ctx, "acme", Filter{Sink: "lrs"}); err != nil || n != 2 {
		t.Fatalf("Remove = %d, %v; want 2", n, err)
	}
	if diff := cmp.Diff(map[string]int{"lrs": 0, "archive": 2}, counts(d)); diff != "" {
		t.Errorf("cached counts (-want +got):\n%s", diff)
	}
	// A fresh store reading the file agrees with the cache.
	if fresh := counts(New(d.dir)); fresh["lrs"] != 0 || fresh["archive"] != 2 {
		t.Errorf("counts read from the file = %v, want archive 2 and no lrs", fresh)
	}
}

// TestLetterStoredOnce: a dead letter added again with the same id (its
// entry refused again because a crash came between storing the letter and
// acknowledging the entry) is stored once, in the same process and after
// a restart; once replayed, the same id is stored again; and only the last
// Window letters of an integration are remembered.
func TestLetterStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := New(t.TempDir())
	first := letters("lrs", 0, 2)
	first[0].ID, first[1].ID = EntryID("acme", "lrs", 1, "st-0", time.Unix(1, 0)), EntryID("acme", "lrs", 2, "st-1", time.Unix(1, 0))
	if err := d.Add(ctx, "acme", first); err != nil {
		t.Fatal(err)
	}
	again := slices.Clone(first[:1])
	again[0].Reason = "refused again after a restart"
	for _, store := range []*Dir{d, New(d.dir)} { // this process, and the next
		if err := store.Add(ctx, "acme", again); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, d *Dir, want []Letter) {
		t.Helper()
		for _, store := range []*Dir{d, New(d.dir)} { // the cache and the file
			got, err := store.List(ctx, "acme", Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(statementIDs(want), statementIDs(got)); diff != "" {
				t.Errorf("%s: List (-want +got):\n%s", when, diff)
			}
			counts, err := store.Counts(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if counts["lrs"] != len(want) {
				t.Errorf("%s: Counts = %v; want lrs: %d", when, counts, len(want))
			}
		}
	}
	check("added again", d, first)
	// Replayed, the letter leaves the store; refused again, it is stored
	// again.
	n, err := d.Replay(ctx, "acme", Filter{IDs: []string{first[0].ID}}, Chunk{Letters: 10, Bytes: 1 << 20}, func(chunk []Letter) ([]string, error) {
		return []string{chunk[0].ID}, nil
	})
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v; want 1", n, err)
	}
	if err := d.Add(ctx, "acme", again); err != nil {
		t.Fatal(err)
	}
	check("added again after a replay", d, []Letter{first[1], first[0]})
	// The window: with room for 2 letters per integration, the first of 3
	// is no longer recognised.
	small := New(t.TempDir())
	small.Window = 2
	three := letters("lrs", 10, 3)
	if err := small.Add(ctx, "acme", three); err != nil {
		t.Fatal(err)
	}
	if err := small.Add(ctx, "acme", three); err != nil {
		t.Fatal(err)
	}
	check("beyond the window", small, append(slices.Clone(three), three[0]))
}

func letters(sink string, from, n int) []Letter {
	out := make([]Letter, n)
	for i := range out {
		out[i] = Letter{Sink: sink, StatementID: fmt.Sprintf("st-%d", from+i), Class: ClassRejected,
			Statement: json.RawMessage(fmt.Sprintf(`{"id":"st-%d","pad":"%s"}`, from+i, strings.Repeat("x", 100)))}
	}
	return out
}

func statementIDs(list []Letter) []string {
	var out []string
	for _, l := range list {
		out = append(out, l.StatementID)
	}
	return out
}

// TestReplayRemovesOnlyWhatWasPut checks the order of a replay: each chunk
// is handed out while it is still stored, and only the letters put
// reports as done are removed, durably, before the next chunk.
func TestReplayRemovesOnlyWhatWasPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := New(t.TempDir())
	if err := d.Add(ctx, "acme", append(letters("lrs", 0, 25), letters("gone", 100, 5)...)); err != nil {
		t.Fatal(err)
	}
	var chunks []int
	failAt := 3
	n, err := d.Replay(ctx, "acme", Filter{}, Chunk{Letters: 10, Bytes: 1 << 20}, func(chunk []Letter) ([]string, error) {
		chunks = append(chunks, len(chunk))
		// While put runs, the chunk is still stored: a crash now loses
		// nothing.
		stored, err := New(d.dir).List(ctx, "acme", Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range chunk {
			if !slices.ContainsFunc(stored, func(s Letter) bool { return s.ID == l.ID }) {
				t.Errorf("letter %s was removed before put returned", l.StatementID)
			}
		}
		if len(chunks) == failAt {
			return nil, errors.New("queue full")
		}
		var done []string
		for _, l := range chunk {
			if l.Sink == "lrs" {
				done = append(done, l.ID)
			}
		}
		return done, nil
	})
	if err == nil || n != 20 {
		t.Fatalf("Replay = %d, %v; want 20 and the error of put", n, err)
	}
	if diff := cmp.Diff([]int{10, 10, 10}, chunks); diff != "" {
		t.Errorf("chunk sizes (-want +got):\n%s", diff)
	}
	for _, store := range []*Dir{d, New(d.dir)} { // the cache and the file agree
		left, err := store.List(ctx, "acme", Filter{})
		if err != nil {
			t.Fatal(err)
		}
		want := append(statementIDs(letters("lrs", 20, 5)), statementIDs(letters("gone", 100, 5))...)
		if diff := cmp.Diff(want, statementIDs(left)); diff != "" {
			t.Errorf("left after the replay (-want +got):\n%s", diff)
		}
		counts, err := store.Counts(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{"lrs": 5, "gone": 5}, counts); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
	}
}

// TestRemovalLinesSurviveWithoutRewrite reads a file whose rewrite after a
// replay never happened (a crash): the removal lines keep the replayed
// letters removed.
func TestRemovalLinesSurviveWithoutRewrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := New(t.TempDir())
	list := letters("lrs", 0, 3)
	if err := d.Add(ctx, "acme", list); err != nil {
		t.Fatal(err)
	}
	if err := d.markGone("acme", list[:2], []string{list[0].ID, list[1].ID}); err != nil {
		t.Fatal(err)
	}
	got, err := New(d.dir).List(ctx, "acme", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"st-2"}, statementIDs(got)); diff != "" {
		t.Errorf("letters (-want +got):\n%s", diff)
	}
}

// TestFilesUseEscapedNames checks that an organization id that is not a
// plain file name stays inside the store, and that Migrate renames files
// of older versions (named by the raw id).
func TestFilesUseEscapedNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	d := New(dir)
	if err := d.Add(ctx, "../Acme", letters("lrs", 0, 1)); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "_2e_2e_2f_41cme.ndjson" {
		t.Errorf("files = %v, want one escaped name", ents)
	}
	// An older version's file, named by the raw id.
	data, err := encode(letters("lrs", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Globex.ndjson"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := New(dir).Migrate(); err != nil {
		t.Fatal(err)
	}
	got, err := New(dir).List(ctx, "Globex", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"st-1"}, statementIDs(got)); diff != "" {
		t.Errorf("letters of a migrated file (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "Globex.ndjson")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the old file is still there: %v", err)
	}
}

// TestEntryID checks that a dead letter's id is a version 5 UUID that
// depends on the organization, the integration, the entry's sequence
// number, the statement and the time the entry was appended, and on
// nothing else.
func TestEntryID(t *testing.T) {
	const st = "3c6e0b8a-9c0b-4e1a-8f2d-000000000001"
	at := time.Date(2026, 12, 2, 9, 30, 0, 123456789, time.UTC)
	base := EntryID("acme", "lrs", 7, st, at)
	if base != EntryID("acme", "lrs", 7, st, at.In(time.FixedZone("UTC+2", 7200))) {
		t.Fatal("EntryID differs between two calls with the same entry")
	}
	if !xapi.IsUUID(base) || base[14] != '5' {
		t.Errorf("EntryID = %q, want a version 5 UUID", base)
	}
	for _, other := range []string{
		EntryID("acme2", "lrs", 7, st, at),
		EntryID("acme", "lrs2", 7, st, at),
		EntryID("acme", "lrs", 8, st, at),
		EntryID("acme", "lrs", 7, "3c6e0b8a-9c0b-4e1a-8f2d-000000000002", at),
		// The same entry of a queue removed and created again.
		EntryID("acme", "lrs", 7, st, at.Add(time.Nanosecond)),
		// The separator keeps fields from running into each other.
		EntryID("acm", "elrs", 7, st, at),
	} {
		if other == base {
			t.Errorf("EntryID of another entry = %s, the same as %s", other, base)
		}
	}
}
