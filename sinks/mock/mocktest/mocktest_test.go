package mocktest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sinks/mock/mocktest"
)

// fakeTB records what a helper reports instead of failing the real test.
type fakeTB struct {
	testing.TB // nil: calling anything not overridden panics
	mu         sync.Mutex
	errors     []string
	fatal      bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and stops the calling goroutine, as the real
// one does; run helpers that may call it with run.
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn on its own goroutine so that Fatalf can stop it.
func run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// statement returns a statement with the given id, verb and timestamp.
func statement(id, verb, ts string) string {
	return `{"id":"` + id + `","actor":{"objectType":"Agent","mbox":"mailto:learner@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/` + verb + `"},` +
		`"object":{"objectType":"Activity","id":"https://example.com/a"},"result":{"score":{"scaled":0.5}},` +
		`"timestamp":"` + ts + `"}`
}

const (
	id1 = "00000000-0000-4000-8000-000000000001"
	id2 = "00000000-0000-4000-8000-000000000002"
	ts1 = "2026-05-01T10:00:00.000Z"
	ts2 = "2026-05-02T11:00:00.000Z"
)

func writeRecording(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rec.ndjson")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAssertStatements(t *testing.T) {
	t.Parallel()
	recorded := statement(id1, "completed", ts1) + "\n" + statement(id2, "failed", ts1) + "\n"
	tests := []struct {
		name     string
		content  string // "" means no file
		want     []string
		opts     []mocktest.Option
		wantPass bool
		// wantInError are substrings the failure message must contain, so
		// that a reader can see what differed.
		wantInError []string
	}{
		{
			name:     "equal",
			content:  recorded,
			want:     []string{statement(id1, "completed", ts1), statement(id2, "failed", ts1)},
			wantPass: true,
		},
		{
			name:     "key order and number spelling do not matter",
			content:  `{"verb":{"id":"v"},"id":"x","n":1.0}` + "\n",
			want:     []string{`{"id":"x","n":1,"verb":{"id":"v"}}`},
			wantPass: true,
		},
		{
			name:        "different verb",
			content:     recorded,
			want:        []string{statement(id1, "completed", ts1), statement(id2, "passed", ts1)},
			wantInError: []string{"(-want +got)", "verbs/passed", "verbs/failed"},
		},
		{
			name:        "ids differ",
			content:     recorded,
			want:        []string{statement("a", "completed", ts1), statement("b", "failed", ts1)},
			wantInError: []string{id1, id2},
		},
		{
			name:     "ids differ, ignored",
			content:  recorded,
			want:     []string{statement("a", "completed", ts1), statement("b", "failed", ts1)},
			opts:     []mocktest.Option{mocktest.IgnoreIDs()},
			wantPass: true,
		},
		{
			name:        "timestamps differ",
			content:     recorded,
			want:        []string{statement(id1, "completed", ts2), statement(id2, "failed", ts2)},
			wantInError: []string{ts1, ts2},
		},
		{
			name:     "timestamps differ, ignored",
			content:  recorded,
			want:     []string{statement(id1, "completed", ts2), statement(id2, "failed", ts2)},
			opts:     []mocktest.Option{mocktest.IgnoreTimestamps()},
			wantPass: true,
		},
		{
			name:     "lrs fields ignored",
			content:  `{"id":"x","stored":"2026-05-01T00:00:00Z","authority":{"mbox":"mailto:lrs@example.com"},"version":"1.0.3"}` + "\n",
			want:     []string{`{"id":"x"}`},
			opts:     []mocktest.Option{mocktest.IgnoreLRSFields()},
			wantPass: true,
		},
		{
			name:        "order differs",
			content:     recorded,
			want:        []string{statement(id2, "failed", ts1), statement(id1, "completed", ts1)},
			wantInError: []string{"(-want +got)"},
		},
		{
			name:     "order differs, any order",
			content:  recorded,
			want:     []string{statement(id2, "failed", ts1), statement(id1, "completed", ts1)},
			opts:     []mocktest.Option{mocktest.AnyOrder()},
			wantPass: true,
		},
		{
			name:        "any order still counts duplicates",
			content:     recorded + statement(id1, "completed", ts1) + "\n",
			want:        []string{statement(id2, "failed", ts1), statement(id1, "completed", ts1)},
			opts:        []mocktest.Option{mocktest.AnyOrder()},
			wantInError: []string{"3 statements, want 2"},
		},
		{
			name:        "missing statement",
			content:     statement(id1, "completed", ts1) + "\n",
			want:        []string{statement(id1, "completed", ts1), statement(id2, "failed", ts1)},
			wantInError: []string{"1 statements, want 2", "verbs/failed"},
		},
		{
			name:     "unterminated last line is a write in progress",
			content:  recorded + `{"id":"`,
			want:     []string{statement(id1, "completed", ts1), statement(id2, "failed", ts1)},
			wantPass: true,
		},
		{
			name:        "corrupt line",
			content:     "not json\n" + recorded,
			want:        []string{statement(id1, "completed", ts1), statement(id2, "failed", ts1)},
			wantInError: []string{"line 1"},
		},
		{
			name:        "invalid expected statement",
			content:     recorded,
			want:        []string{"{"},
			wantInError: []string{"expected statement 0"},
		},
		{
			name:        "no recording",
			want:        []string{statement(id1, "completed", ts1)},
			wantInError: []string{"read recording"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "missing.ndjson")
			if tt.content != "" {
				file = writeRecording(t, tt.content)
			}
			ft := &fakeTB{}
			var pass bool
			run(func() { pass = mocktest.AssertStatements(ft, file, tt.want, tt.opts...) })
			if pass != tt.wantPass {
				t.Errorf("AssertStatements = %v, want %v (errors: %q)", pass, tt.wantPass, ft.errors)
			}
			if tt.wantPass {
				if len(ft.errors) != 0 {
					t.Errorf("Errorf called on a match: %q", ft.errors)
				}
				return
			}
			if len(ft.errors) != 1 {
				t.Fatalf("Errorf called %d times, want once: %q", len(ft.errors), ft.errors)
			}
			for _, s := range tt.wantInError {
				if !strings.Contains(ft.errors[0], s) {
					t.Errorf("failure message lacks %q:\n%s", s, ft.errors[0])
				}
			}
		})
	}
}

func TestAssertStatementsRawMessages(t *testing.T) {
	t.Parallel()
	file := writeRecording(t, statement(id1, "completed", ts1)+"\n")
	ft := &fakeTB{}
	want := []json.RawMessage{json.RawMessage(statement(id1, "completed", ts1))}
	if !mocktest.AssertStatements(ft, file, want) {
		t.Errorf("AssertStatements with []json.RawMessage failed: %q", ft.errors)
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	file := writeRecording(t, statement(id1, "completed", ts1)+"\r\n"+statement(id2, "failed", ts1)+"\n"+`{"id":`)
	got, err := mocktest.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []json.RawMessage{json.RawMessage(statement(id1, "completed", ts1)), json.RawMessage(statement(id2, "failed", ts1))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	t.Run("statements arrive", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "rec.ndjson")
		go func() {
			time.Sleep(20 * time.Millisecond)
			os.WriteFile(file, []byte(statement(id1, "completed", ts1)+"\n"+statement(id2, "failed", ts1)+"\n"), 0o644)
		}()
		ft := &fakeTB{}
		var got []json.RawMessage
		run(func() { got = mocktest.Wait(ft, file, 2, 10*time.Second) })
		if len(ft.errors) != 0 || len(got) != 2 {
			t.Errorf("Wait = %d statements, errors %q; want 2 and none", len(got), ft.errors)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		file := writeRecording(t, statement(id1, "completed", ts1)+"\n")
		ft := &fakeTB{}
		run(func() { mocktest.Wait(ft, file, 2, 30*time.Millisecond) })
		if !ft.fatal || len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "has 1 statements") {
			t.Errorf("Wait past its timeout: fatal %v, errors %q; want one Fatalf saying how many it saw", ft.fatal, ft.errors)
		}
	})
}
