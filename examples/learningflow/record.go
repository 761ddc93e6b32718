package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

// recordFile records o.events, reporting refused lines and progress on
// stderr.
func (a *app) recordFile(ctx context.Context, h *host.Host, o options) (httpapi.RecordStats, error) {
	var r io.Reader = a.stdin
	name := "stdin"
	if o.events != "-" {
		f, err := os.Open(o.events)
		if err != nil {
			return httpapi.RecordStats{}, err
		}
		defer f.Close()
		r, name = f, o.events
	}
	return httpapi.Record(ctx, h, r, httpapi.RecordOptions{
		Workers: o.workers,
		OnResult: func(res httpapi.LineResult) {
			if res.Status == httpapi.StatusRefused {
				fmt.Fprintf(a.stderr, "learningflow: %s:%d: refused: %s\n", name, res.Line, res.Error)
			}
		},
		ProgressEvery: o.progress,
		Progress: func(s httpapi.RecordStats, elapsed time.Duration, final bool) {
			rate := 0.0
			if elapsed > 0 {
				rate = float64(s.Events) / elapsed.Seconds()
			}
			word := "recording"
			if final {
				word = "recorded"
			}
			fmt.Fprintf(a.stderr, "learningflow: %s %s: %d events read, %d recorded, %d refused, %d statements, %.0f events/s\n",
				word, name, s.Events, s.Recorded, s.Refused, s.Statements, rate)
		},
	})
}

// summary is the one-line JSON result of -drain.
type summary struct {
	httpapi.RecordStats
	// Delivered, AlreadyStored and DeadLettered add up the statements of
	// every integration since the start (a statement of an organization
	// with two integrations counts twice).
	Delivered     int64 `json:"delivered"`
	AlreadyStored int64 `json:"already_stored"`
	DeadLettered  int64 `json:"dead_lettered"`
	// Queued counts statements left undelivered: paused integrations
	// (rejected credentials) or the drain timeout.
	Queued int `json:"queued"`
	// Seconds is the time from the start of recording to the summary.
	Seconds float64 `json:"seconds"`
	// Integrations breaks the counts down.
	Integrations []integrationSummary `json:"integrations"`
}

// integrationSummary is one integration's counts in the summary.
type integrationSummary struct {
	Org          string `json:"org"`
	ID           string `json:"id"`
	Plugin       string `json:"plugin"`
	State        string `json:"state"`
	Delivered    int64  `json:"delivered"`
	DeadLettered int64  `json:"dead_lettered"`
	DeadLetters  int    `json:"dead_letters"`
	Queued       int    `json:"queued"`
}

// drain waits until the host is idle, prints the summary and returns the
// exit code.
func (a *app) drain(ctx context.Context, h *host.Host, st httpapi.RecordStats, start time.Time, timeout time.Duration) int {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waitErr := h.WaitIdle(wctx)
	s, err := collectSummary(h, st)
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
		return 1
	}
	s.Seconds = time.Since(start).Seconds()
	if waitErr != nil {
		fmt.Fprintf(a.stderr, "learningflow: gave up waiting for delivery: %v\n", waitErr)
	}
	if err := json.NewEncoder(a.stdout).Encode(s); err != nil {
		return 1
	}
	if s.Refused > 0 || s.DeadLettered > 0 || s.Queued > 0 || waitErr != nil {
		return 1
	}
	return 0
}

func collectSummary(h *host.Host, st httpapi.RecordStats) (summary, error) {
	s := summary{RecordStats: st, Integrations: []integrationSummary{}}
	for _, org := range h.Orgs() {
		status, err := h.Status(org)
		if err != nil {
			return s, err
		}
		for _, x := range status.Sinks {
			s.Delivered += x.Delivered
			s.AlreadyStored += x.AlreadyStored
			s.DeadLettered += x.DeadLettered
			s.Queued += x.Queued
			s.Integrations = append(s.Integrations, integrationSummary{
				Org: org, ID: x.ID, Plugin: x.Plugin, State: x.State, Delivered: x.Delivered, DeadLettered: x.DeadLettered, DeadLetters: x.DeadLetters, Queued: x.Queued,
			})
		}
	}
	return s, nil
}
