package archive_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// testID returns a statement id for n.
func testID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// stmt returns a canonical-looking statement with id n.
func stmt(n int) sdk.Statement {
	id := testID(n)
	return sdk.Statement{ID: id, JSON: []byte(`{"id":"` + id +
		`","actor":{"objectType":"Agent","mbox":"mailto:learner@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},` +
		`"object":{"objectType":"Activity","id":"https://example.com/course/1"}}`)}
}

func stmts(from, to int) []sdk.Statement {
	var out []sdk.Statement
	for n := from; n < to; n++ {
		out = append(out, stmt(n))
	}
	return out
}

// clock is a settable clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s string) *clock {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &clock{t: t}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newSink(t testing.TB, dir, org string, cfg archive.Config, c *clock) *archive.Sink {
	t.Helper()
	cfg.Dir = dir
	s, err := archive.New(org, cfg, archive.WithClock(c.now))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func deliver(t testing.TB, s *archive.Sink, batch []sdk.Statement) sdk.DeliverResponse {
	t.Helper()
	resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: batch})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	return resp
}

// replayIDs returns the ids of org's archive in replay order.
func replayIDs(t testing.TB, dir, org string) []string {
	t.Helper()
	r, err := archive.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var ids []string
	err = r.Replay(context.Background(), org, time.Time{}, time.Time{}, func(rec archive.Record) error {
		ids = append(ids, rec.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return ids
}

func idsOf(batch []sdk.Statement) []string {
	var ids []string
	for _, s := range batch {
		ids = append(ids, s.ID)
	}
	return ids
}

// files lists the file names in org's directory, without the lock file.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sub {
				if s.Name() != ".lock" {
					names = append(names, e.Name()+"/"+s.Name())
				}
			}
		}
	}
	return names
}

func TestDeliverAndReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T10:00:00Z")
	s := newSink(t, dir, "acme", archive.DefaultConfig(), c)
	deliver(t, s, stmts(0, 3))
	deliver(t, s, stmts(3, 4))

	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []archive.Record
	err = r.Replay(context.Background(), "acme", time.Time{}, time.Time{}, func(rec archive.Record) error {
		got = append(got, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	var want []archive.Record
	for i, st := range stmts(0, 4) {
		want = append(want, archive.Record{ID: st.ID, JSON: st.JSON, Day: "2026-05-01", File: "2026-05-01.0001.ndjson", Line: int64(i + 1)})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replay (-want +got):\n%s", diff)
	}
	orgs, err := r.Orgs()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acme"}, orgs); diff != "" {
		t.Errorf("Orgs (-want +got):\n%s", diff)
	}
}

func TestDeliverVerdicts(t *testing.T) {
	t.Parallel()
	multiLine := stmt(7)
	multiLine.JSON = []byte("{\n  \"id\": \"" + multiLine.ID + "\",\n  \"verb\": {\"id\": \"http://example.com/v\"}\n}")
	wrongID := stmt(8)
	wrongID.ID = testID(9)
	tests := []struct {
		name      string
		earlier   []sdk.Statement
		batch     []sdk.Statement
		want      []string // "", "stored", "permanent" per statement
		wantLines []string
	}{
		{
			name:      "all new",
			batch:     stmts(0, 2),
			want:      nil,
			wantLines: idsOf(stmts(0, 2)),
		},
		{
			name:      "duplicate of an earlier batch",
			earlier:   stmts(0, 2),
			batch:     stmts(1, 3),
			want:      []string{"stored", ""},
			wantLines: idsOf(stmts(0, 3)),
		},
		{
			name:      "duplicate within the batch",
			batch:     []sdk.Statement{stmt(1), stmt(2), stmt(1)},
			want:      []string{"", "", "stored"},
			wantLines: idsOf(stmts(1, 3)),
		},
		{
			name:      "multi-line json is compacted",
			batch:     []sdk.Statement{multiLine},
			want:      nil,
			wantLines: []string{multiLine.ID},
		},
		{
			name: "invalid statements are permanent",
			batch: []sdk.Statement{
				{ID: testID(1), JSON: []byte(`{"id":"` + testID(1) + `",`)},
				{ID: "", JSON: []byte(`{}`)},
				{ID: testID(3), JSON: []byte(`["not an object"]`)},
				wrongID,
				stmt(5),
			},
			want:      []string{"permanent", "permanent", "permanent", "permanent", ""},
			wantLines: []string{testID(5)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := newSink(t, dir, "acme", archive.DefaultConfig(), newClock("2026-05-01T10:00:00Z"))
			if tt.earlier != nil {
				deliver(t, s, tt.earlier)
			}
			resp := deliver(t, s, tt.batch)
			var got []string
			for _, v := range resp.Verdicts {
				switch {
				case v.AlreadyStored:
					got = append(got, "stored")
				case sdk.IsPermanent(v.Err):
					got = append(got, "permanent")
				case v.Err != nil:
					got = append(got, "error: "+v.Err.Error())
				default:
					got = append(got, "")
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLines, replayIDs(t, dir, "acme")); diff != "" {
				t.Errorf("archived ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDuplicatesAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T10:00:00Z")
	cfg := archive.DefaultConfig()
	cfg.RotateBytes = 600 // a few statements per part
	cfg.Dir = dir
	s, err := archive.New("acme", cfg, archive.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, stmts(0, 10))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = newSink(t, dir, "acme", cfg, c)
	resp := deliver(t, s, stmts(5, 12))
	var stored int
	for _, v := range resp.Verdicts {
		if v.AlreadyStored {
			stored++
		}
	}
	if stored != 5 {
		t.Errorf("AlreadyStored verdicts after restart = %d, want 5 (ids in rotated and active parts)", stored)
	}
	// A later day starts a new index: the guarantee is per UTC day.
	c.set("2026-05-02T00:00:01Z")
	resp = deliver(t, s, stmts(11, 12))
	if resp.Verdicts != nil {
		t.Errorf("verdicts on a new day = %v, want all delivered", resp.Verdicts)
	}
	want := append(idsOf(stmts(0, 12)), testID(11))
	if diff := cmp.Diff(want, replayIDs(t, dir, "acme")); diff != "" {
		t.Errorf("archived ids (-want +got):\n%s", diff)
	}
}

func TestRotationAndManifest(t *testing.T) {
	t.Parallel()
	for _, gz := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c := newClock("2026-05-01T23:59:00Z")
			cfg := archive.DefaultConfig()
			cfg.RotateBytes = int64(2*len(stmt(0).JSON) + 2) // two statements per part
			cfg.Gzip = gz
			s := newSink(t, dir, "acme", cfg, c)
			deliver(t, s, stmts(0, 5)) // parts 1, 2 full; part 3 open
			c.set("2026-05-02T00:00:00Z")
			deliver(t, s, stmts(5, 6)) // closes part 3 of May 1

			ext := ".ndjson"
			if gz {
				ext += ".gz"
			}
			wantFiles := []string{
				"acme/2026-05-01.0001" + ext,
				"acme/2026-05-01.0002" + ext,
				"acme/2026-05-01.0003" + ext,
				"acme/2026-05-02.0001.ndjson",
				"acme/manifest.json",
			}
			if diff := cmp.Diff(wantFiles, files(t, dir), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			r, err := archive.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := r.Manifest("acme")
			if err != nil {
				t.Fatal(err)
			}
			type entry struct {
				File  string
				Lines int64
				Gzip  bool
			}
			var got []entry
			for _, e := range m.Files {
				got = append(got, entry{e.File, e.Lines, e.Gzip})
				data, err := os.ReadFile(filepath.Join(dir, "acme", e.File))
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(data)) != e.Size {
					t.Errorf("%s: size %d, manifest says %d", e.File, len(data), e.Size)
				}
				if gz {
					zr, err := gzip.NewReader(strings.NewReader(string(data)))
					if err != nil {
						t.Fatalf("%s: %v", e.File, err)
					}
					raw, err := io.ReadAll(zr)
					if err != nil {
						t.Fatalf("%s: %v", e.File, err)
					}
					data = raw
				}
				if int64(len(data)) != e.RawSize {
					t.Errorf("%s: raw size %d, manifest says %d", e.File, len(data), e.RawSize)
				}
			}
			want := []entry{
				{"2026-05-01.0001" + ext, 2, gz},
				{"2026-05-01.0002" + ext, 2, gz},
				{"2026-05-01.0003" + ext, 1, gz},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("manifest (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(idsOf(stmts(0, 6)), replayIDs(t, dir, "acme")); diff != "" {
				t.Errorf("archived ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplayRange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T12:00:00Z")
	s := newSink(t, dir, "acme", archive.DefaultConfig(), c)
	for day := 1; day <= 4; day++ {
		c.set(fmt.Sprintf("2026-05-%02dT12:00:00Z", day))
		deliver(t, s, stmts(day*10, day*10+2))
	}
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"all", time.Time{}, time.Time{}, idsOf(slices.Concat(stmts(10, 12), stmts(20, 22), stmts(30, 32), stmts(40, 42)))},
		{"from mid day 2", at("2026-05-02T18:00:00Z"), time.Time{}, idsOf(slices.Concat(stmts(20, 22), stmts(30, 32), stmts(40, 42)))},
		{"to start of day 3", time.Time{}, at("2026-05-03T00:00:00Z"), idsOf(slices.Concat(stmts(10, 12), stmts(20, 22)))},
		{"day 3 only", at("2026-05-03T00:00:00Z"), at("2026-05-04T00:00:00Z"), idsOf(stmts(30, 32))},
		{"empty", at("2026-06-01T00:00:00Z"), time.Time{}, nil},
	}
	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := r.Replay(context.Background(), "acme", tt.from, tt.to, func(rec archive.Record) error {
				got = append(got, rec.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Replay (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplayErrors(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	tests := []struct {
		name    string
		org     string
		corrupt func(t *testing.T, orgDir string)
		fn      func(archive.Record) error
		want    error
	}{
		{name: "unknown org", org: "other", want: archive.ErrUnknownOrg},
		{
			name: "checksum mismatch",
			org:  "acme",
			corrupt: func(t *testing.T, orgDir string) {
				p := filepath.Join(orgDir, "2026-05-01.0001.ndjson.gz")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				if err := os.WriteFile(p, b, 0o640); err != nil {
					t.Fatal(err)
				}
			},
			want: archive.ErrCorrupt,
		},
		{
			name: "truncated closed file",
			org:  "acme",
			corrupt: func(t *testing.T, orgDir string) {
				if err := os.Truncate(filepath.Join(orgDir, "2026-05-01.0001.ndjson.gz"), 10); err != nil {
					t.Fatal(err)
				}
			},
			want: archive.ErrCorrupt,
		},
		{
			name: "garbage line in the open file",
			org:  "acme",
			corrupt: func(t *testing.T, orgDir string) {
				f, err := os.OpenFile(filepath.Join(orgDir, "2026-05-02.0001.ndjson"), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteString("not json\n"); err != nil {
					t.Fatal(err)
				}
			},
			want: archive.ErrCorrupt,
		},
		{
			name: "callback error",
			org:  "acme",
			fn:   func(archive.Record) error { return stop },
			want: stop,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c := newClock("2026-05-01T12:00:00Z")
			s := newSink(t, dir, "acme", archive.DefaultConfig(), c)
			deliver(t, s, stmts(0, 3))
			c.set("2026-05-02T12:00:00Z")
			deliver(t, s, stmts(3, 4))
			if tt.corrupt != nil {
				tt.corrupt(t, filepath.Join(dir, "acme"))
			}
			fn := tt.fn
			if fn == nil {
				fn = func(archive.Record) error { return nil }
			}
			r, err := archive.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Replay(context.Background(), tt.org, time.Time{}, time.Time{}, fn)
			if !errors.Is(err, tt.want) {
				t.Errorf("Replay error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplayVerifiesBeforeCallingBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T12:00:00Z")
	s := newSink(t, dir, "acme", archive.DefaultConfig(), c)
	deliver(t, s, stmts(0, 3))
	c.set("2026-05-02T12:00:00Z")
	deliver(t, s, stmts(3, 4))
	p := filepath.Join(dir, "acme", "2026-05-01.0001.ndjson.gz")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("trailing bytes")
	f.Close()
	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	err = r.Replay(context.Background(), "acme", time.Time{}, time.Time{}, func(archive.Record) error {
		calls++
		return nil
	})
	if !errors.Is(err, archive.ErrCorrupt) {
		t.Errorf("Replay error = %v, want ErrCorrupt", err)
	}
	if calls != 0 {
		t.Errorf("callback called %d times before the checksum failed, want 0", calls)
	}
}

func TestOrgsAreSeparate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T12:00:00Z")
	orgs := []string{"acme", "Acme", "../acme", "a/b", ".", "..", "acme_2e", strings.Repeat("x", 300), strings.Repeat("x", 299) + "y"}
	for i, org := range orgs {
		s := newSink(t, dir, org, archive.DefaultConfig(), c)
		deliver(t, s, stmts(i, i+1))
	}
	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Orgs()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orgs, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Orgs (-want +got):\n%s", diff)
	}
	for i, org := range orgs {
		if diff := cmp.Diff([]string{testID(i)}, replayIDs(t, dir, org)); diff != "" {
			t.Errorf("org %q ids (-want +got):\n%s", org, diff)
		}
	}
	// Nothing escaped the archive directory.
	parent, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(parent) != 1 {
		var names []string
		for _, e := range parent {
			names = append(names, e.Name())
		}
		t.Errorf("entries beside the archive directory: %v", names)
	}
}

func TestConcurrentDeliver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T12:00:00Z")
	cfg := archive.DefaultConfig()
	cfg.RotateBytes = 4096
	const (
		orgs       = 3
		writers    = 4
		batches    = 10
		perBatch   = 5
		perWriter  = batches * perBatch
		perOrgStmt = writers * perWriter
	)
	var wg sync.WaitGroup
	for o := range orgs {
		org := fmt.Sprintf("org-%d", o)
		// Two instances of the same org share the writer.
		a := newSink(t, dir, org, cfg, c)
		b := newSink(t, dir, org, cfg, c)
		for w := range writers {
			s := a
			if w%2 == 1 {
				s = b
			}
			wg.Go(func() {
				base := w * perWriter
				for i := range batches {
					// Each batch also repeats the previous batch's first
					// statement, which must come back AlreadyStored.
					batch := stmts(base+i*perBatch, base+(i+1)*perBatch)
					if i > 0 {
						batch = append(batch, stmt(base+(i-1)*perBatch))
					}
					resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: batch})
					if err != nil {
						t.Errorf("Deliver: %v", err)
						return
					}
					if i > 0 && (len(resp.Verdicts) != len(batch) || !resp.Verdicts[len(batch)-1].AlreadyStored) {
						t.Errorf("repeated statement not AlreadyStored: %+v", resp.Verdicts)
					}
				}
			})
		}
	}
	wg.Wait()
	for o := range orgs {
		got := replayIDs(t, dir, fmt.Sprintf("org-%d", o))
		if diff := cmp.Diff(idsOf(stmts(0, perOrgStmt)), got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("org-%d ids (-want +got):\n%s", o, diff)
		}
	}
}

func TestCloseIdempotentAndDeliverAfterClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := archive.New("acme", archive.Config{Dir: dir, Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	_, err = s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
	if !errors.Is(err, archive.ErrClosed) {
		t.Errorf("Deliver after Close = %v, want ErrClosed", err)
	}
}

func TestDeliverCanceled(t *testing.T) {
	t.Parallel()
	s := newSink(t, t.TempDir(), "acme", archive.DefaultConfig(), newClock("2026-05-01T12:00:00Z"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: stmts(0, 1)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver = %v, want context.Canceled", err)
	}
}

func TestSharedInstanceSettingsMustMatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T12:00:00Z")
	newSink(t, dir, "acme", archive.DefaultConfig(), c)
	cfg := archive.DefaultConfig()
	cfg.Dir = dir
	cfg.Gzip = false
	if s, err := archive.New("acme", cfg); err == nil {
		s.Close(context.Background())
		t.Errorf("New with other settings for an open org succeeded")
	}
}

func TestTestConnection(t *testing.T) {
	t.Parallel()
	type step struct {
		Name   string
		Status sdk.StepStatus
	}
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  []step
	}{
		{
			name: "writable",
			want: []step{{"dir", sdk.StepPassed}, {"manifest", sdk.StepPassed}},
		},
		{
			name: "directory gone",
			spoil: func(t *testing.T, dir string) {
				if err := os.RemoveAll(filepath.Join(dir, "acme")); err != nil {
					t.Fatal(err)
				}
			},
			want: []step{{"dir", sdk.StepFailed}, {"manifest", sdk.StepFailed}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := newSink(t, dir, "acme", archive.DefaultConfig(), newClock("2026-05-01T12:00:00Z"))
			if tt.spoil != nil {
				tt.spoil(t, dir)
			}
			r, err := s.TestConnection(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []step
			for _, st := range r.Steps {
				got = append(got, step{st.Name, st.Status})
				if strings.Contains(st.Message, dir) {
					t.Errorf("step %s message reveals the path: %q", st.Name, st.Message)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, "acme")); len(entries) != 2 { // manifest and lock
				if tt.spoil == nil {
					t.Errorf("probe left files behind: %d entries", len(entries))
				}
			}
		})
	}
}

// TestReplayWhileClosing closes the file Replay is about to read, from the
// callback: Replay must find it compressed in the manifest.
func TestReplayWhileClosing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newClock("2026-05-01T12:00:00Z")
	cfg := archive.DefaultConfig()
	cfg.RotateBytes = int64(2*len(stmt(0).JSON) + 2)
	s := newSink(t, dir, "acme", cfg, c)
	deliver(t, s, stmts(0, 3)) // part 1 closed with 0 and 1, part 2 open with 2
	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	closed := false
	err = r.Replay(context.Background(), "acme", time.Time{}, time.Time{}, func(rec archive.Record) error {
		got = append(got, rec.ID+" "+rec.File)
		if !closed {
			closed = true
			c.set("2026-05-02T12:00:00Z")
			deliver(t, s, stmts(3, 4))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	want := []string{
		testID(0) + " 2026-05-01.0001.ndjson.gz",
		testID(1) + " 2026-05-01.0001.ndjson.gz",
		testID(2) + " 2026-05-01.0002.ndjson.gz",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replay (-want +got):\n%s", diff)
	}
}

func TestParseConfigResolvesRelativeDir(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := archive.ParseConfig(map[string]any{"dir": "./archive"})
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if want := filepath.Join(wd, "archive"); cfg.Dir != want {
		t.Errorf("Dir = %q, want %q", cfg.Dir, want)
	}
}
