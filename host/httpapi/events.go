package httpapi

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

// MaxLineBytes is the longest NDJSON line Record accepts; a longer line is
// refused (and skipped) without being held in memory.
const MaxLineBytes = 8 << 20

// Recorder is what Record needs of the host.
type Recorder interface {
	RecordEvent(ctx context.Context, ev host.Event) ([]*xapi.Statement, error)
}

var _ Recorder = (*host.Host)(nil)

// Line statuses.
const (
	StatusRecorded = "recorded"
	StatusRefused  = "refused"
)

// Refusal codes of LineResult.Code.
const (
	CodeMalformed      = "malformed"       // the line is not a JSON event envelope
	CodeTooLong        = "too_long"        // the line is longer than MaxLineBytes
	CodeInvalid        = "invalid"         // the event is not valid (Field says where)
	CodeUnknownKind    = "unknown_kind"    // no normalizer knows the event's kind
	CodeUnknownOrg     = "unknown_org"     // the organization does not exist
	CodeNoIntegrations = "no_integrations" // the organization has no integration yet
	CodeQueueFull      = "queue_full"      // a queue quota is reached; send again later
	CodeForbidden      = "forbidden"       // the caller may not send events for the organization
	CodeUnavailable    = "unavailable"     // the server is shutting down; send again later
)

// LineResult is the outcome of one NDJSON line.
type LineResult struct {
	// Line is the line number, from 1.
	Line int `json:"line"`
	// ID, Org and Kind are the event's, when the line could be read.
	ID   string `json:"id,omitempty"`
	Org  string `json:"org,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Status is "recorded" or "refused".
	Status string `json:"status"`
	// Code is the machine-readable reason of a refusal (the Code...
	// constants).
	Code string `json:"code,omitempty"`
	// Statements is the number of statements the event yielded.
	Statements int `json:"statements"`
	// Field is the JSON path of the offending value of an invalid event,
	// when known.
	Field string `json:"field,omitempty"`
	// Error says why the event was refused.
	Error string `json:"error,omitempty"`
}

// RecordStats counts what Record did.
type RecordStats struct {
	// Events counts the non-empty lines read.
	Events int64 `json:"events"`
	// Recorded counts events turned into statements and queued (including
	// events that yielded no statement).
	Recorded int64 `json:"recorded"`
	// Refused counts lines that were not recorded.
	Refused int64 `json:"refused"`
	// Statements counts the statements queued, per organization (each is
	// delivered to every integration of its organization).
	Statements int64 `json:"statements"`
}

// counters are RecordStats updated concurrently.
type counters struct {
	events, recorded, refused, statements atomic.Int64
}

func (c *counters) stats() RecordStats {
	return RecordStats{Events: c.events.Load(), Recorded: c.recorded.Load(), Refused: c.refused.Load(), Statements: c.statements.Load()}
}

// RecordOptions configure Record.
type RecordOptions struct {
	// Workers is the number of events recorded at once. Events of the same
	// organization and user always go to the same worker, in input order,
	// so that sequences (a SCORM attempt) keep their order. Default 8.
	Workers int
	// Allow, when set, is asked for every event's organization before it
	// is recorded; an error refuses the line with CodeForbidden.
	Allow func(org string) error
	// OnResult, when set, receives every line's result, from one goroutine
	// at a time, not necessarily in line order.
	OnResult func(LineResult)
	// Progress, when set, is called every ProgressEvery with the counts so
	// far, and once at the end with final set.
	Progress      func(s RecordStats, elapsed time.Duration, final bool)
	ProgressEvery time.Duration
}

// Record reads NDJSON event envelopes from r and records each with rec. A
// malformed line or an event that is refused is reported with its line
// number, code and reason; it never stops the other lines. It returns when
// r is exhausted and every event read was handled, or with ctx's error
// when ctx ends (events not yet handled then are not counted), or with a
// read error of r.
func Record(ctx context.Context, rec Recorder, r io.Reader, opts RecordOptions) (RecordStats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	var c counters
	results := make(chan LineResult, 64)
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
				res := LineResult{Line: j.line, ID: j.ev.ID, Org: j.ev.Org, Kind: j.ev.Kind}
				stmts, err := rec.RecordEvent(ctx, j.ev)
				switch {
				case err == nil:
					res.Status = StatusRecorded
					res.Statements = len(stmts)
					c.recorded.Add(1)
					c.statements.Add(int64(len(stmts)))
				case ctx.Err() != nil:
					continue
				default:
					res.Status, res.Code, res.Error = StatusRefused, refusalCode(err), err.Error()
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
		refuse := func(res LineResult) {
			c.refused.Add(1)
			res.Line, res.Status = line, StatusRefused
			results <- res
		}
		if tooLong {
			refuse(LineResult{Code: CodeTooLong, Error: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)})
			return
		}
		var ev host.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			refuse(LineResult{Code: CodeMalformed, Error: "malformed event: " + jsonReason(err)})
			return
		}
		if opts.Allow != nil {
			if err := opts.Allow(ev.Org); err != nil {
				refuse(LineResult{ID: ev.ID, Org: ev.Org, Kind: ev.Kind, Code: CodeForbidden, Error: "you may not send events for this organization"})
				return
			}
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

// refusalCode classifies an error of RecordEvent.
func refusalCode(err error) string {
	var ee *host.EventError
	var re *host.RecordError
	switch {
	case errors.Is(err, host.ErrOrgUnknown):
		return CodeUnknownOrg
	case errors.Is(err, host.ErrNoSinks):
		return CodeNoIntegrations
	case errors.Is(err, host.ErrFull):
		return CodeQueueFull
	case errors.Is(err, host.ErrUnknownKind):
		return CodeUnknownKind
	case errors.Is(err, host.ErrClosed):
		return CodeUnavailable
	case errors.As(err, &ee), errors.As(err, &re):
		return CodeInvalid
	}
	return CodeInvalid
}

// readLines calls fn for every non-empty line of r, numbered from 1, with
// the line's bytes (valid until fn returns) or tooLong for a line over
// MaxLineBytes. A "\r" before the newline is dropped.
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
			if len(buf)+len(chunk) > MaxLineBytes+2 {
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
