package host

import (
	"context"
	"sync"
)

// eventCalls counts the RecordEvent calls in progress per organization,
// so that RemoveOrg archives an organization's SCORM state only once no
// call can save it any more: a call that found the organization before
// its removal and commits its attempt state afterwards would otherwise
// leave that state behind for an organization created later with the
// same id.
//
// Calls are added while the host's lookup lock is held and the
// organization is in effect; RemoveOrg takes the organization out under
// the same lock before it waits, so no call is added once it waits.
type eventCalls struct {
	mu   sync.Mutex
	n    map[string]int
	idle map[string]chan struct{} // closed when n[org] drops to 0
}

// add notes one more call for org.
func (c *eventCalls) add(org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
		c.idle = map[string]chan struct{}{}
	}
	c.n[org]++
}

// done notes the end of a call for org.
func (c *eventCalls) done(org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[org]--
	if c.n[org] > 0 {
		return
	}
	delete(c.n, org)
	if ch, ok := c.idle[org]; ok {
		close(ch)
		delete(c.idle, org)
	}
}

// wait returns once no call for org is in progress, or with ctx's error.
func (c *eventCalls) wait(ctx context.Context, org string) error {
	c.mu.Lock()
	if c.n[org] == 0 {
		c.mu.Unlock()
		return nil
	}
	ch, ok := c.idle[org]
	if !ok {
		ch = make(chan struct{})
		c.idle[org] = ch
	}
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
