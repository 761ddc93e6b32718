package lrsserver

import (
	"sync"
	"time"
)

// inflight tracks the stored times of the statement writes in progress,
// so that X-Experience-API-Consistent-Through never claims a time at or
// after which a statement may still appear: a write takes its stored time
// before the Recorder runs and becomes visible only after it.
type inflight struct {
	mu     sync.Mutex
	stored map[time.Time]int
}

// begin registers a write that stores its statements at t.
func (f *inflight) begin(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stored == nil {
		f.stored = make(map[time.Time]int)
	}
	f.stored[t]++
}

// end unregisters a write begun at t.
func (f *inflight) end(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stored[t]--; f.stored[t] <= 0 {
		delete(f.stored, t)
	}
}

// through returns the time up to which every statement is visible: now,
// or just before the earliest stored time of a write in progress.
func (f *inflight) through(now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t := range f.stored {
		if before := t.Add(-time.Millisecond); before.Before(now) {
			now = before
		}
	}
	return now
}
