package archive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sinks/archive"
)

// TestReopenRepairs leaves an archive in the states a crash can leave it in
// and checks that reopening it completes or undoes the interrupted work
// without losing or duplicating a statement.
func TestReopenRepairs(t *testing.T) {
	t.Parallel()
	const (
		plain = "2026-05-01.0001.ndjson"
		gz    = "2026-05-01.0001.ndjson.gz"
	)
	appendTo := func(t *testing.T, path, s string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	gzipFile := func(t *testing.T, from, to string) {
		t.Helper()
		raw, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		if err := os.WriteFile(to, buf.Bytes(), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// crash changes the organization directory after statements 0-2 were
		// delivered on 2026-05-01 and the sink was closed.
		crash func(t *testing.T, orgDir string)
		// nextDay reopens on 2026-05-02, which closes the May 1 file.
		nextDay bool
		// wantStored: statement 3, delivered after reopening, is already
		// in the archive.
		wantStored bool
		want       []string
		wantErr    error
	}{
		{
			name: "unterminated last line",
			crash: func(t *testing.T, d string) {
				appendTo(t, filepath.Join(d, plain), `{"id":"00000000-0000-4000-8000-0000000`)
			},
			want: idsOf(stmts(0, 4)),
		},
		{
			name:  "garbage lines at the end",
			crash: func(t *testing.T, d string) { appendTo(t, filepath.Join(d, plain), "\x00\x00\x00\n\x00\x00\n") },
			want:  idsOf(stmts(0, 4)),
		},
		{
			name: "a whole unacknowledged line is kept and counts as stored",
			crash: func(t *testing.T, d string) {
				appendTo(t, filepath.Join(d, plain), string(stmt(3).JSON)+"\n")
			},
			wantStored: true,
			want:       idsOf(stmts(0, 4)),
		},
		{
			name:    "torn line then day change",
			crash:   func(t *testing.T, d string) { appendTo(t, filepath.Join(d, plain), `{"id":`) },
			nextDay: true,
			want:    idsOf(stmts(0, 4)),
		},
		{
			name: "stale temporary of an interrupted compression",
			crash: func(t *testing.T, d string) {
				if err := os.WriteFile(filepath.Join(d, gz+".tmp"), []byte("partial"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			nextDay: true,
			want:    idsOf(stmts(0, 4)),
		},
		{
			name: "compressed copy linked but not in the manifest",
			crash: func(t *testing.T, d string) {
				gzipFile(t, filepath.Join(d, plain), filepath.Join(d, gz))
			},
			nextDay: true,
			want:    idsOf(stmts(0, 4)),
		},
		{
			name: "compressed copy with other content is never replaced",
			crash: func(t *testing.T, d string) {
				other := filepath.Join(d, "other")
				if err := os.WriteFile(other, []byte(string(stmt(9).JSON)+"\n"), 0o640); err != nil {
					t.Fatal(err)
				}
				gzipFile(t, other, filepath.Join(d, gz))
				os.Remove(other)
			},
			nextDay: true,
			wantErr: archive.ErrCorrupt,
		},
		{
			name: "stale manifest temporary",
			crash: func(t *testing.T, d string) {
				if err := os.WriteFile(filepath.Join(d, "manifest.json.tmp"), []byte("{"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			want: idsOf(stmts(0, 4)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			orgDir := filepath.Join(dir, "acme")
			c := newClock("2026-05-01T12:00:00Z")
			cfg := archive.DefaultConfig()
			cfg.Dir = dir
			s, err := archive.New("acme", cfg, archive.WithClock(c.now))
			if err != nil {
				t.Fatal(err)
			}
			deliver(t, s, stmts(0, 3))
			s.Close(context.Background())
			tt.crash(t, orgDir)
			if tt.nextDay {
				c.set("2026-05-02T12:00:00Z")
			}
			s, err = archive.New("acme", cfg, archive.WithClock(c.now))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("reopen = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer s.Close(context.Background())
			resp := deliver(t, s, stmts(3, 4))
			if got := resp.Verdicts != nil && resp.Verdicts[0].AlreadyStored; got != tt.wantStored {
				t.Errorf("statement 3 AlreadyStored = %v, want %v", got, tt.wantStored)
			}
			if diff := cmp.Diff(tt.want, replayIDs(t, dir, "acme")); diff != "" {
				t.Errorf("archived ids (-want +got):\n%s", diff)
			}
			for _, name := range []string{gz + ".tmp", "manifest.json.tmp"} {
				if _, err := os.Stat(filepath.Join(orgDir, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left behind: %v", name, err)
				}
			}
			if tt.nextDay {
				if _, err := os.Stat(filepath.Join(orgDir, plain)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("plain copy of a closed file left behind: %v", err)
				}
			}
		})
	}
}

// TestReopenRemovesPlainCopyOfClosedFile covers a crash after the manifest
// recorded the compressed file but before the plain file was removed.
func TestReopenRemovesPlainCopyOfClosedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	orgDir := filepath.Join(dir, "acme")
	c := newClock("2026-05-01T12:00:00Z")
	cfg := archive.DefaultConfig()
	cfg.Dir = dir
	s, err := archive.New("acme", cfg, archive.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s, stmts(0, 3))
	raw, err := os.ReadFile(filepath.Join(orgDir, "2026-05-01.0001.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	c.set("2026-05-02T12:00:00Z")
	deliver(t, s, stmts(3, 4))
	s.Close(context.Background())
	if err := os.WriteFile(filepath.Join(orgDir, "2026-05-01.0001.ndjson"), raw, 0o640); err != nil {
		t.Fatal(err)
	}
	s = newSink(t, dir, "acme", archive.DefaultConfig(), c)
	deliver(t, s, stmts(4, 5))
	if diff := cmp.Diff(idsOf(stmts(0, 5)), replayIDs(t, dir, "acme")); diff != "" {
		t.Errorf("archived ids (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(orgDir, "2026-05-01.0001.ndjson")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plain copy left behind: %v", err)
	}
}
