package sdk

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// LogLimit bounds how many log lines of one plugin process reach the host's
// logger: a token bucket of Burst lines refilled at PerSecond lines a
// second. Each line is also cut at 4 KiB. Lines over the limit are dropped and counted; the count is logged
// at WARN ("plugin log lines suppressed") before the next line that passes,
// and when the process ends.
type LogLimit struct {
	// PerSecond is the sustained rate. Zero means 50.
	PerSecond float64
	// Burst is how many lines may come at once. Zero means 500.
	Burst int
}

// lineLimiter applies a LogLimit to the lines of one process. Its methods
// are safe for concurrent use.
type lineLimiter struct {
	l     *slog.Logger
	rate  float64
	burst float64
	now   func() time.Time

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

func newLineLimiter(l *slog.Logger, lim LogLimit, now func() time.Time) *lineLimiter {
	if lim.PerSecond <= 0 {
		lim.PerSecond = 50
	}
	if lim.Burst <= 0 {
		lim.Burst = 500
	}
	if now == nil {
		now = time.Now
	}
	return &lineLimiter{l: l, rate: lim.PerSecond, burst: float64(lim.Burst), now: now, tokens: float64(lim.Burst), last: now()}
}

// allow reports whether one more line may be logged. When it may and lines
// were dropped before it, it first logs how many.
func (r *lineLimiter) allow() bool {
	r.mu.Lock()
	t := r.now()
	r.tokens = min(r.burst, r.tokens+t.Sub(r.last).Seconds()*r.rate)
	r.last = t
	if r.tokens < 1 {
		r.suppressed++
		r.mu.Unlock()
		return false
	}
	r.tokens--
	n := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	r.report(n)
	return true
}

// flush logs the count of lines dropped since the last report, if any.
func (r *lineLimiter) flush() {
	r.mu.Lock()
	n := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	r.report(n)
}

func (r *lineLimiter) report(n int) {
	if n > 0 {
		r.l.Log(context.Background(), slog.LevelWarn, "plugin log lines suppressed", "suppressed", n)
	}
}

// maxLogLine bounds the length of one line of a plugin's output in the
// host's log; the rest is cut, and the cut said.
const maxLogLine = 4 << 10

// clipLine cuts s to maxLogLine bytes (at a rune boundary) and says how much
// was cut.
func clipLine(s string) string {
	if len(s) <= maxLogLine {
		return s
	}
	n := maxLogLine
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + " [" + strconv.Itoa(len(s)-n) + " bytes cut]"
}
