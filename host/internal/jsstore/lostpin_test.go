package jsstore

import (
	"context"
	"testing"
	"time"
)

// TestLostPinGivesUpTheReset: an instance that wanted to reset a consumer
// as its holder (after a reconnect, say) and cannot, because the consumer
// has no leader, must give the reset up once it loses the pin. Retried
// until the servers answer again, the reset would come after another
// instance took the integration over and make that holder's batch in
// flight come again (seen in the multi-instance process test, 11 s after a
// server's kill). The consumer is deleted here so that every reset fails.
func TestLostPinGivesUpTheReset(t *testing.T) {
	s := openTestStore(t)
	qq, err := s.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	q := qq.(*jsQueue)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, s.cfg.Stream, q.cname); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	q.pin = "held-before"
	q.markReset()
	q.mu.Unlock()

	next := make(chan error, 1)
	nctx, stop := context.WithCancel(ctx)
	go func() {
		_, err := q.Next(nctx, 10, 0)
		next <- err
	}()
	state := func() (resetting, needReset bool) {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.resetting, q.needReset
	}
	for r, _ := state(); !r; r, _ = state() {
		if ctx.Err() != nil {
			t.Fatal("the reset never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	q.lostPin("its consumer has no leader")
	for {
		r, need := state()
		if !r && !need {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after losing its pin the instance still resets (resetting %v, reset due %v)", r, need)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if err := <-next; err == nil {
		t.Error("Next handed something out from a queue whose consumer is gone")
	}
}
