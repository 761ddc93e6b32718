package jsstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// TestReserveCounts walks one quota through reservations: a count is read
// from the servers when there is none or when an Append would pass the
// limit, reservations under way count, acknowledgements free room, and a
// failed read falls back on the last count.
func TestReserveCounts(t *testing.T) {
	s := &Store{tallies: map[string]*tally{}}
	ctx := context.Background()
	onServers := int64(2)
	reads := 0
	var readErr error
	read := func(context.Context) (int64, error) {
		reads++
		return onServers, readErr
	}
	reserve := func(need int64) (*tally, error) {
		return s.reserveOne(ctx, "queue:q", queue.QuotaQueue, 10, need, read)
	}
	errReadFailed := errors.New("no servers")

	// First Append: the count is read (2), 5 reserved.
	t1, err := reserve(5)
	if err != nil || reads != 1 {
		t.Fatalf("first reserve = %v after %d reads, want nil after 1", err, reads)
	}
	// 2 + 5 under way + 4 > 10: read again, then refused.
	_, err = reserve(4)
	var qe *queue.QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, queue.ErrFull) || reads != 2 {
		t.Fatalf("reserve past the quota = %v after %d reads, want a QuotaError wrapping ErrFull after 2", err, reads)
	}
	want := queue.QuotaError{Quota: queue.QuotaQueue, Limit: 10, Used: 7, Need: 4}
	if diff := cmp.Diff(want, *qe); diff != "" {
		t.Errorf("quota error (-want +got):\n%s", diff)
	}
	// The first Append stored: 7 counted, none under way.
	t1.done(5, true)
	// 7 + 3 fits without a read (the count is fresh).
	t2, err := reserve(3)
	if err != nil || reads != 2 {
		t.Fatalf("reserve up to the quota = %v after %d reads, want nil after 2", err, reads)
	}
	t2.done(3, false) // refused by the servers: not counted
	s.remove("queue:q", 5)
	if got := s.tallies["queue:q"].n; got != 2 {
		t.Errorf("count after a refused Append and 5 acknowledged = %d, want 2", got)
	}

	// A failed read with a count at hand judges on that count.
	s.tallies["queue:q"].at = time.Now().Add(-time.Hour)
	readErr = errReadFailed
	if _, err := reserve(8); err != nil {
		t.Errorf("reserve with a failed read and an old count of 2 = %v, want nil", err)
	}
	// Without any count, the read's error is returned.
	if _, err := s.reserveOne(ctx, "queue:other", queue.QuotaQueue, 10, 1, read); !errors.Is(err, errReadFailed) {
		t.Errorf("reserve with a failed first read = %v, want %v", err, errReadFailed)
	}
	// No limit: nothing read, nothing kept.
	if tl, err := s.reserveOne(ctx, "queue:free", queue.QuotaQueue, 0, 1000, read); err != nil || tl != nil {
		t.Errorf("unlimited reserve = %v, %v; want nil, nil", tl, err)
	}
}
