package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// maxLineBytes is the longest NDJSON line accepted; a longer line is
// refused (and skipped) without being held in memory.
const maxLineBytes = 8 << 20

// recorder is what recording needs of the host.
type recorder interface {
	RecordEvent(ctx context.Context, ev host.Event) ([]*xapi.Statement, error)
}

// Line outcomes.
const (
	statusRecorded = "recorded"
	statusRefused  = "refused"
)

// lineResult is the outcome of one NDJSON line.
type lineResult struct {
	// Line is the line number, from 1.
	Line int `json:"line"`
	// ID, Org and Kind are the event's, when the line could be read.
	ID   string `json:"id,omitempty"`
	Org  string `json:"org,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Status is "recorded" or "refused".
	Status string `json:"status"`
	// Statements is the number of statements the event yielded.
	Statements int `json:"statements"`
	// Field is the JSON path of the offending value of a refused event,
	// when known.
	Field string `json:"field,omitempty"`
	// Error says why the event was refused.
	Error string `json:"error,omitempty"`
}

// recordStats counts what recordNDJSON did.
type recordStats struct {
	// Events counts the non-empty lines read.
	Events int64 `json:"events"`
	// Recorded counts events turned into statements and queued (including
	// events that yielded no statement).
	Recorded int64 `json:"recorded"`
	// Refused counts lines that were not recorded: malformed JSON, invalid
	// events, unknown organizations or kinds, full queues.
	Refused int64 `json:"refused"`
	// Statements counts the statements queued, per organization (each is
	// delivered to every integration of its organization).
	Statements int64 `json:"statements"`
}

// counters are recordStats updated concurrently, read by the progress
// reporter.
type counters struct {
	events, recorded, refused, statements atomic.Int64
}

func (c *counters) stats() recordStats {
	return recordStats{Events: c.events.Load(), Recorded: c.recorded.Load(), Refused: c.refused.Load(), Statements: c.statements.Load()}
}

// recordOptions configure recordNDJSON.
type recordOptions struct {
	// Workers is the number of events recorded at once. Events of the same
	// organization and user always go to the same worker, in file order,
	// so that sequences (a SCORM attempt) keep their order. Default 8.
	Workers int
	// OnResult, when set, receives every line's result, from one goroutine
	// at a time, not necessarily in line order.
	OnResult func(lineResult)
	// Progress, when set, is called every ProgressEvery with the counts so
	// far and once at the end.
	Progress      func(s recordStats, elapsed time.Duration, final bool)
	ProgressEvery time.Duration
}

// recordNDJSON reads NDJSON event envelopes from r and records each with
// rec. A malformed line or an event the host refuses is reported with its
// line number and reason and counted as refused; it never stops the other
// lines. It returns when r is exhausted and every event read was handled,
// or with ctx's error when ctx ends (events not yet handled then are not
// counted), or with a read error of r.
func recordNDJSON(ctx context.Context, rec recorder, r io.Reader, opts recordOptions) (recordStats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	var c counters
	results := make(chan lineResult, 64)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for res := range results {
			if opts.OnResult != nil {
				opts.OnResult(res)
			}
		}
	}()

	start := time.Now()
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if opts.Progress == nil || opts.ProgressEvery <= 0 {
			<-stopProgress
			return
		}
		t := time.NewTicker(opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				opts.Progress(c.stats(), time.Since(start), false)
			}
		}
	}()

	type job struct {
		line int
		ev   host.Event
	}
	queues := make([]chan job, workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan job, 16)
		wg.Add(1)
		go func(q chan job) {
			defer wg.Done()
			for j := range q {
				if ctx.Err() != nil {
					continue // drain without recording
				}
				res := lineResult{Line: j.line, ID: j.ev.ID, Org: j.ev.Org, Kind: j.ev.Kind}
				stmts, err := rec.RecordEvent(ctx, j.ev)
				switch {
				case err == nil:
					res.Status = statusRecorded
					res.Statements = len(stmts)
					c.recorded.Add(1)
					c.statements.Add(int64(len(stmts)))
				case ctx.Err() != nil:
					continue
				default:
					res.Status = statusRefused
					res.Error = err.Error()
					var ee *host.EventError
					if errors.As(err, &ee) {
						res.Field = ee.Field
					}
					c.refused.Add(1)
				}
				results <- res
			}
		}(queues[i])
	}

	readErr := readLines(ctx, r, func(line int, data []byte, tooLong bool) {
		c.events.Add(1)
		refuse := func(msg string) {
			c.refused.Add(1)
			results <- lineResult{Line: line, Status: statusRefused, Error: msg}
		}
		if tooLong {
			refuse(fmt.Sprintf("line is longer than %d bytes", maxLineBytes))
			return
		}
		var ev host.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			refuse("malformed event: " + jsonReason(err))
			return
		}
		h := fnv.New32a()
		h.Write([]byte(ev.Org))
		h.Write([]byte{0})
		if ev.User != nil {
			h.Write([]byte(ev.User.ID))
		}
		select {
		case queues[int(h.Sum32()%uint32(workers))] <- job{line: line, ev: ev}:
		case <-ctx.Done():
		}
	})
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	close(results)
	<-collected
	close(stopProgress)
	<-progressDone
	st := c.stats()
	if opts.Progress != nil {
		opts.Progress(st, time.Since(start), true)
	}
	if readErr != nil {
		return st, readErr
	}
	return st, ctx.Err()
}

// jsonReason describes a JSON decoding error without quoting the input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s: want a JSON %s, got %s", te.Field, jsonKindOf(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("want a JSON object, got %s", te.Value)
	}
	return err.Error()
}

func jsonKindOf(goKind string) string {
	switch goKind {
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	}
	return goKind
}

// readLines calls fn for every non-empty line of r, numbered from 1, with
// the line's bytes (valid until fn returns) or tooLong for a line over
// maxLineBytes. A "\r" before the newline is dropped.
func readLines(ctx context.Context, r io.Reader, fn func(line int, data []byte, tooLong bool)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	line := 0
	tooLong := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 && !tooLong {
			if len(buf)+len(chunk) > maxLineBytes+2 {
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		atEOF := errors.Is(err, io.EOF)
		if err != nil && !atEOF {
			return fmt.Errorf("read events: %w", err)
		}
		if len(chunk) > 0 || len(buf) > 0 || tooLong {
			line++
			data := bytes.TrimSpace(buf)
			if tooLong || len(data) > 0 {
				fn(line, data, tooLong)
			}
		}
		buf = buf[:0]
		tooLong = false
		if atEOF {
			return nil
		}
	}
}
