package sdk

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// summaries is an slog handler that keeps the suppressed counts logged.
type summaries struct {
	mu     sync.Mutex
	counts []int64
}

func (s *summaries) Enabled(context.Context, slog.Level) bool { return true }
func (s *summaries) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			s.mu.Lock()
			s.counts = append(s.counts, a.Value.Int64())
			s.mu.Unlock()
		}
		return true
	})
	return nil
}
func (s *summaries) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *summaries) WithGroup(string) slog.Handler      { return s }

func TestLineLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sum := &summaries{}
	r := newLineLimiter(slog.New(sum), LogLimit{PerSecond: 2, Burst: 3}, func() time.Time { return now })
	var got []bool
	step := func(n int) {
		for range n {
			got = append(got, r.allow())
		}
	}
	step(5)                    // the burst of 3 passes, 2 held back
	now = now.Add(time.Second) // 2 more tokens
	step(3)                    // 2 pass (the first after a summary of 2), 1 held back
	r.flush()                  // the count of 1 comes out at the end
	r.flush()                  // nothing more
	want := []bool{true, true, true, false, false, true, true, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allow (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{2, 1}, sum.counts); diff != "" {
		t.Errorf("suppressed summaries (-want +got):\n%s", diff)
	}
}

func TestClipLine(t *testing.T) {
	long := strings.Repeat("é", maxLogLine) // two bytes each
	tests := []struct {
		name, in, want string
	}{
		{"short", "hello", "hello"},
		{"at the bound", strings.Repeat("a", maxLogLine), strings.Repeat("a", maxLogLine)},
		{"over, cut at a rune", long, strings.Repeat("é", maxLogLine/2) + " [" + strconv.Itoa(maxLogLine) + " bytes cut]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, clipLine(tt.in)); diff != "" {
				t.Errorf("clipLine (-want +got):\n%s", diff)
			}
		})
	}
}
