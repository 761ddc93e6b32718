package launch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// TestFileStoreReplay checks that a reopened store holds what was written,
// that a torn last line (a crash during a write) is dropped, and that
// writes after reopening land after the good lines.
func TestFileStoreReplay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lrs.jsonl")
	key := func(id string) lrsserver.DocKey {
		return lrsserver.DocKey{NS: "acme", Kind: lrsserver.KindState, ActivityID: "http://example.com/a", Agent: "mbox:a@example.com", ID: id}
	}
	put := func(s *fileStore, id, body string) {
		t.Helper()
		err := s.UpdateDocument(ctx, key(id), func(*lrsserver.Document) (*lrsserver.Document, error) {
			return &lrsserver.Document{ContentType: "text/plain", Body: []byte(body), Updated: time.Unix(1, 0)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(s *fileStore, id string) string {
		t.Helper()
		d, ok, err := s.Document(ctx, key(id))
		if err != nil || !ok {
			return ""
		}
		return string(d.Body)
	}
	s, err := openFileStore(path, true)
	if err != nil {
		t.Fatal(err)
	}
	put(s, "bookmark", "slide-2")
	if err := s.AddStatements(ctx, "acme", []lrsserver.Record{{ID: "00000000-0000-4000-8000-000000000001", Full: []byte(`{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"key":{"NS":"acme","Kind":"state","ID":"torn"`)
	_ = f.Close()

	s, err = openFileStore(path, true)
	if err != nil {
		t.Fatalf("reopen after a torn line: %v", err)
	}
	if got := get(s, "bookmark"); got != "slide-2" {
		t.Errorf("bookmark after reopen = %q, want slide-2", got)
	}
	if n := s.Len("acme"); n != 1 {
		t.Errorf("statements after reopen = %d, want 1", n)
	}
	put(s, "bookmark", "slide-3")
	_ = s.Close()

	s, err = openFileStore(path, true)
	if err != nil {
		t.Fatalf("reopen after writing past a torn line: %v", err)
	}
	defer s.Close()
	if got := get(s, "bookmark"); got != "slide-3" {
		t.Errorf("bookmark = %q, want slide-3", got)
	}
	if got := get(s, "torn"); got != "" {
		t.Errorf("the torn document was kept: %q", got)
	}
}

// TestFileStoreCorrupt checks that a damaged line in the middle is an
// error naming what to do, not a silent loss.
func TestFileStoreCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lrs.jsonl")
	if err := os.WriteFile(path, []byte("not json\n{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openFileStore(path, false); err == nil {
		t.Fatal("openFileStore accepted a damaged journal")
	}
}

// TestSessionFile checks that reopening keeps the launches still valid,
// drops expired ones and a torn line, and appends after them.
func TestSessionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "launches.jsonl")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sf, got, err := openSessionFile(path, now, true)
	if err != nil || len(got) != 0 {
		t.Fatalf("open empty: %v, %d launches", err, len(got))
	}
	for _, s := range []savedSession{
		{ID: "live", Org: "acme", Expires: now.Add(time.Hour)},
		{ID: "old", Org: "acme", Expires: now.Add(-time.Minute)},
	} {
		if err := sf.add(s); err != nil {
			t.Fatal(err)
		}
	}
	_ = sf.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"id":"torn","org":`)
	_ = f.Close()

	sf, got, err = openSessionFile(path, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "live" {
		t.Fatalf("reopened launches = %+v, want only live", got)
	}
	if err := sf.add(savedSession{ID: "new", Org: "acme", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_ = sf.Close()
	sf, got, err = openSessionFile(path, now, true)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	if len(got) != 2 || got[1].ID != "new" {
		t.Errorf("launches after an append = %+v, want live and new", got)
	}
}

// TestFileStoreCompacts checks that a journal whose documents are saved
// again and again is rewritten instead of growing without bound, that
// the rewritten journal reopens to the same content (statements in order
// with their voided marks, the last version of every document, no deleted
// one), and that changes made while it is rewritten, from many
// goroutines, all survive a reopen.
func TestFileStoreCompacts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lrs.jsonl")
	s, err := openFileStore(path, false)
	if err != nil {
		t.Fatal(err)
	}
	s.minGarbage = 16 << 10
	key := func(learner int, id string) lrsserver.DocKey {
		return lrsserver.DocKey{NS: "acme", Kind: lrsserver.KindState, ActivityID: "https://courses.learningflow.example/c1",
			Agent: fmt.Sprintf("mbox:mailto:learner%d@acme.example", learner), ID: id}
	}
	suspend := strings.Repeat("x", 500)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for learner := range 8 {
		wg.Go(func() {
			for i := range 300 {
				body := fmt.Sprintf(`{"slide":%d,"data":%q}`, i, suspend)
				err := s.UpdateDocument(ctx, key(learner, "bookmark"), func(*lrsserver.Document) (*lrsserver.Document, error) {
					return &lrsserver.Document{ContentType: "application/json", Body: []byte(body), Updated: time.Unix(1700000000, 0).UTC()}, nil
				})
				if err == nil && i%10 == 0 {
					id := fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", learner, i)
					err = s.AddStatements(ctx, "acme", []lrsserver.Record{{ID: id, Full: []byte(`{}`)}}, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.AddStatements(ctx, "acme", []lrsserver.Record{{ID: "00000000-0000-4000-8000-999999999999", Full: []byte(`{}`)}},
		[]string{"00000000-0000-4000-8000-000000000000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDocuments(ctx, key(7, "")); err != nil {
		t.Fatal(err)
	}
	written := int64(8*300) * int64(len(suspend))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > written/10 {
		t.Errorf("journal is %d bytes after %d bytes of documents were saved, most of them superseded: it was not compacted", st.Size(), written)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), compactPattern(path))); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	r, err := openFileStore(path, false)
	if err != nil {
		t.Fatalf("reopen after compaction: %v", err)
	}
	defer r.Close()
	if n := r.Len("acme"); n != 8*30+1 {
		t.Errorf("statements after reopen = %d, want %d", n, 8*30+1)
	}
	var voided []string
	_ = r.Statements(ctx, "acme", func(rec *lrsserver.Record) bool {
		if rec.Voided {
			voided = append(voided, rec.ID)
		}
		return true
	})
	if diff := cmp.Diff([]string{"00000000-0000-4000-8000-000000000000"}, voided); diff != "" {
		t.Errorf("voided statements after reopen (-want +got):\n%s", diff)
	}
	for learner := range 8 {
		d, ok, err := r.Document(ctx, key(learner, "bookmark"))
		switch {
		case err != nil:
			t.Fatal(err)
		case learner == 7 && ok:
			t.Errorf("learner 7's deleted bookmark came back: %s", d.Body)
		case learner != 7 && (!ok || !strings.HasPrefix(string(d.Body), `{"slide":299,`)):
			t.Errorf("learner %d's bookmark after reopen = %.20q (found %v), want the last one saved", learner, d.Body, ok)
		}
	}
}

// TestFileStoreRemovesLeftoverRewrite checks that a rewrite cut short by a
// crash (its temporary file left next to the journal) is ignored and
// removed at the next open.
func TestFileStoreRemovesLeftoverRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lrs.jsonl")
	if err := os.WriteFile(path, []byte(`{"ns":"acme","records":[{"ID":"00000000-0000-4000-8000-000000000001","Full":"e30="}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, ".lrs.jsonl.compact-123")
	if err := os.WriteFile(leftover, []byte(`{"ns":"acme","rec`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := openFileStore(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := s.Len("acme"); n != 1 {
		t.Errorf("statements = %d, want 1", n)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover rewrite file still there (%v)", err)
	}
}

// TestFileStoreForgetsStatements checks that forgetting old statements
// frees their part of the journal: the journal is rewritten without them,
// and a reopen finds only the statements kept and the documents.
func TestFileStoreForgetsStatements(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lrs.jsonl")
	s, err := openFileStore(path, false)
	if err != nil {
		t.Fatal(err)
	}
	s.minGarbage = 16 << 10
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	full := []byte(`{"data":"` + strings.Repeat("x", 400) + `"}`)
	for i := range 400 {
		recs := []lrsserver.Record{
			{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", 2*i), Stored: base.Add(time.Duration(i) * time.Hour), Full: full},
			{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", 2*i+1), Stored: base.Add(time.Duration(i) * time.Hour), Full: full},
		}
		if err := s.AddStatements(ctx, "acme", recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	key := lrsserver.DocKey{NS: "acme", Kind: lrsserver.KindState, ActivityID: "https://courses.learningflow.example/c1", Agent: "mbox:a@acme.example", ID: "bookmark"}
	if err := s.UpdateDocument(ctx, key, func(*lrsserver.Document) (*lrsserver.Document, error) {
		return &lrsserver.Document{ContentType: "text/plain", Body: []byte("slide-9"), Updated: base}, nil
	}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.ForgetStatements(base.Add(390 * time.Hour))
	if err != nil || n != 780 {
		t.Fatalf("ForgetStatements = %d, %v; want 780", n, err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() > before.Size()/10 {
		t.Errorf("journal %d bytes after forgetting 780 of 800 statements, %d before: it was not rewritten", after.Size(), before.Size())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := openFileStore(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Len("acme"); got != 20 {
		t.Errorf("statements after reopen = %d, want the 20 kept", got)
	}
	if d, ok, _ := r.Document(ctx, key); !ok || string(d.Body) != "slide-9" {
		t.Errorf("the bookmark after reopen = %q (found %v)", d.Body, ok)
	}
}
