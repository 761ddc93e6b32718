package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

// timeouts are the server's timeouts: the defaults unless a test set
// others.
func (a *app) timeouts() serverTimeouts {
	if a.serverTimeouts != nil {
		return *a.serverTimeouts
	}
	return defaultTimeouts
}

// reportProgress prints a progress line on stdout every interval until the
// returned function is called (which waits for the reporter to end).
func (a *app) reportProgress(rn *running, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if s, err := collectSummary(rn.host, httpapi.RecordStats{}); err == nil {
				fmt.Fprintln(a.stdout, progressLine(s, rn.events.Load()))
			}
		}
	}()
	return func() { close(done); <-ended }
}

// progressLine is the progress line of a running server.
func progressLine(s summary, eventsIn int64) string {
	return fmt.Sprintf("progress: %d events in, %d statements delivered, %d queued, %d dead-lettered", eventsIn, s.Delivered, s.Queued, s.DeadLettered)
}

// stop waits up to 10 seconds for the queues to drain, shuts the host
// down and says truthfully what happens to what was not delivered.
func (a *app) stop(w io.Writer, h *host.Host, demo *demoEnv, shutdown func(time.Duration) error) {
	fmt.Fprintln(w, "stopping: delivering what is queued (at most 10s)")
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = h.WaitIdle(wctx)
	cancel()
	s, err := collectSummary(h, httpapi.RecordStats{})
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
	}
	if err := shutdown(5 * time.Second); err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
	}
	fmt.Fprintln(w, exitMessage(s.Queued, deadLetterCount(s), demo))
}

// exitMessage says what happens to queued statements and dead letters at
// exit: kept in the data directory for the next start, or removed with a
// temporary one.
func exitMessage(queued, dead int, demo *demoEnv) string {
	if queued == 0 && dead == 0 {
		return "stopped: every statement was delivered."
	}
	left := fmt.Sprintf("%d statements not delivered (%d queued, %d dead letters)", queued+dead, queued, dead)
	if demo != nil && demo.tempData {
		return "stopped: " + left + " are removed with the temporary data directory; run with -data DIR to keep them."
	}
	dir := "the data directory"
	if demo != nil {
		dir = demo.DataDir
	}
	return "stopped: " + left + " stay in " + dir + "; queued ones are delivered at the next start with the same data directory."
}

func deadLetterCount(s summary) int {
	n := 0
	for _, in := range s.Integrations {
		n += in.DeadLetters
	}
	return n
}
