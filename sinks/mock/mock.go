package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// ErrClosed is returned by Deliver after Close.
var ErrClosed = errors.New("mock: sink closed")

// ErrScripted is wrapped by every failure the script causes (fail_first,
// auth_fail), so that a test can tell them from real errors.
var ErrScripted = errors.New("mock: scripted failure")

// RejectedError is the error of a statement's permanent verdict when it
// matched a reject rule. It is wrapped with sdk.Permanent.
type RejectedError struct {
	// Rule is the index of the rule in Config.Reject.
	Rule int
	// Message is the rule's message.
	Message string
}

// Error returns the rule's message.
func (e *RejectedError) Error() string { return e.Message }

// Option configures NewProvider and New.
type Option func(*options)

type options struct {
	crash func()
}

// WithCrash sets what crash_on_batch does; without it, configurations that
// set crash_on_batch are refused. The mock plugin passes a function that
// exits the process; nothing else should.
func WithCrash(crash func()) Option {
	return func(o *options) { o.crash = crash }
}

// Sink is a mock sink instance. It is safe for concurrent use; concurrent
// batches are scripted in the order they arrive and recorded one batch at a
// time.
type Sink struct {
	cfg     Config
	crash   func()
	rec     *recorder
	batches atomic.Int64

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

var (
	_ sdk.Sink             = (*Sink)(nil)
	_ sdk.ConnectionTester = (*Sink)(nil)
	_ sdk.VersionReporter  = (*Sink)(nil)
)

// New returns a mock sink instance scripted by cfg.
func New(cfg Config, opts ...Option) (*Sink, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg.Reject = slices.Clone(cfg.Reject)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CrashOnBatch > 0 && o.crash == nil {
		return nil, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "crash_on_batch", Message: "only the mock plugin process can crash"}}}
	}
	s := &Sink{cfg: cfg, crash: o.crash}
	if cfg.RecordFile != "" {
		rec, err := openRecorder(cfg.RecordFile)
		if err != nil {
			return nil, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "record_file", Message: "cannot be opened for appending: " + pathErrText(err)}}}
		}
		s.rec = rec
	}
	return s, nil
}

// NewProvider returns the provider the mock plugin serves: it configures
// instances from the host's configuration map (see ParseConfig).
func NewProvider(opts ...Option) sdk.Provider {
	return sdk.ProviderFunc(func(_ context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
		cfg, err := ParseConfig(req.Config)
		if err != nil {
			return nil, err
		}
		return New(cfg, opts...)
	})
}

// Deliver answers a batch as scripted: it waits Latency, crashes on batch
// CrashOnBatch, fails every batch for AuthFail, fails the first FailFirst
// batches (asking for RetryAfter when set), gives statements matching a
// reject rule a permanent verdict, and records the others.
func (s *Sink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	if s.closed.Load() {
		return sdk.DeliverResponse{}, ErrClosed
	}
	ctx, span := sdk.Tracer(ctx, "github.com/learningflow/lrsbridge/sinks/mock").Start(ctx, "mock deliver",
		trace.WithAttributes(attribute.Int("lrsbridge.statement.count", len(req.Statements))))
	defer span.End()
	n := s.batches.Add(1)
	if s.cfg.Latency > 0 {
		t := time.NewTimer(s.cfg.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return sdk.DeliverResponse{}, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return sdk.DeliverResponse{}, err
	}
	if s.cfg.CrashOnBatch > 0 && n == int64(s.cfg.CrashOnBatch) && s.claimCrash() {
		s.crashWhole()
	}
	switch s.cfg.AuthFail {
	case AuthUnauthenticated:
		return sdk.DeliverResponse{}, sdk.Unauthenticated(fmt.Errorf("%w: credentials rejected", ErrScripted))
	case AuthForbidden:
		return sdk.DeliverResponse{}, sdk.Forbidden(fmt.Errorf("%w: credentials not permitted to store statements", ErrScripted))
	}
	if n <= int64(s.cfg.FailFirst) {
		err := fmt.Errorf("%w: batch %d of the first %d fails", ErrScripted, n, s.cfg.FailFirst)
		if s.cfg.RetryAfter > 0 {
			err = sdk.RetryAfter(err, s.cfg.RetryAfter)
		}
		return sdk.DeliverResponse{}, err
	}
	var (
		verdicts []sdk.Verdict
		lines    []byte
	)
	for i, st := range req.Statements {
		if r, rule := s.rejects(st.JSON); r != nil {
			if verdicts == nil {
				verdicts = make([]sdk.Verdict, len(req.Statements))
			}
			verdicts[i].Err = sdk.Permanent(&RejectedError{Rule: rule, Message: r.Message})
			continue
		}
		lines = appendLine(lines, st.JSON)
	}
	if s.rec != nil && len(lines) > 0 {
		if err := s.rec.write(lines); err != nil {
			return sdk.DeliverResponse{}, fmt.Errorf("record batch: %w", err)
		}
	}
	return sdk.DeliverResponse{Verdicts: verdicts}, nil
}

// rejects returns the first rule matching a statement and its index.
func (s *Sink) rejects(raw []byte) (*Rule, int) {
	if len(s.cfg.Reject) == 0 {
		return nil, -1
	}
	var (
		doc     any
		decoded bool
		ok      bool
	)
	decode := func() (any, bool) {
		if !decoded {
			decoded = true
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			ok = dec.Decode(&doc) == nil
		}
		return doc, ok
	}
	for i := range s.cfg.Reject {
		if s.cfg.Reject[i].match(raw, decode) {
			return &s.cfg.Reject[i], i
		}
	}
	return nil, -1
}

// crashWhole crashes with no batch half recorded: the recording stands
// for what an LRS stored, whole statements. A process killed while another
// batch's write is under way could cut it between pages (the kernel stops
// a write to a file at a page when the process is killed), and the next
// process would append after the torn line. So the crash waits for a
// write under way and keeps the recording until the process is gone.
func (s *Sink) crashWhole() {
	if s.rec != nil {
		s.rec.mu.Lock()
		defer s.rec.mu.Unlock() // for a crash function that returns (tests)
	}
	s.crash()
}

// claimCrash reports whether this process should crash now: always without
// a recording, and once per recording with one.
func (s *Sink) claimCrash() bool {
	if s.cfg.RecordFile == "" {
		return true
	}
	f, err := os.OpenFile(s.cfg.RecordFile+".crashed", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// appendLine appends a statement to an NDJSON buffer, compacting it if it
// spans several lines.
func appendLine(dst, stmt []byte) []byte {
	if bytes.ContainsAny(stmt, "\r\n") {
		var buf bytes.Buffer
		if json.Compact(&buf, stmt) == nil {
			stmt = buf.Bytes()
		} else {
			stmt = bytes.ReplaceAll(bytes.ReplaceAll(stmt, []byte("\r"), nil), []byte("\n"), []byte(" "))
		}
	}
	dst = append(dst, stmt...)
	return append(dst, '\n')
}

// Close releases the recording. It is idempotent.
func (s *Sink) Close(context.Context) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.rec != nil {
			s.closeErr = s.rec.release()
		}
	})
	return s.closeErr
}

// XAPIVersion returns the configured xAPI version.
func (s *Sink) XAPIVersion() xapi.Version { return s.cfg.XAPIVersion }

// TestConnection reports the script as the steps of a connection test: the
// recording can be written, the credentials (failed when AuthFail is set)
// and the scripted delivery failures (a warning when there are any). It
// sends and records nothing.
func (s *Sink) TestConnection(context.Context) (sdk.Report, error) {
	var steps []sdk.Step
	rec := sdk.Step{Name: "record", Title: "Open the recording", Status: sdk.StepSkipped, Message: "no record_file is configured"}
	if s.cfg.RecordFile != "" {
		rec.Status, rec.Message = sdk.StepPassed, "statements are recorded to "+filepath.Base(s.cfg.RecordFile)
		if f, err := os.OpenFile(s.cfg.RecordFile, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			rec.Status, rec.Message = sdk.StepFailed, "the recording cannot be written: "+pathErrText(err)
		} else {
			f.Close()
		}
	}
	steps = append(steps, rec)
	steps = append(steps, sdk.Step{Name: "about", Title: "Check the xAPI version", Status: sdk.StepPassed,
		Message: "the mock accepts xAPI " + string(s.cfg.XAPIVersion)})
	auth := sdk.Step{Name: "auth", Title: "Check the credentials", Status: sdk.StepPassed, Message: "the mock accepts the credentials"}
	switch s.cfg.AuthFail {
	case AuthUnauthenticated:
		auth.Status, auth.Message = sdk.StepFailed, "the mock is scripted to reject the credentials (401)"
	case AuthForbidden:
		auth.Status, auth.Message = sdk.StepFailed, "the mock is scripted to refuse the credentials permission to store statements (403)"
	}
	steps = append(steps, auth)
	var script []string
	if s.cfg.FailFirst > 0 {
		m := fmt.Sprintf("the first %d batches fail", s.cfg.FailFirst)
		if s.cfg.RetryAfter > 0 {
			m += fmt.Sprintf(" asking to retry after %v", s.cfg.RetryAfter)
		}
		script = append(script, m)
	}
	if n := len(s.cfg.Reject); n > 0 {
		script = append(script, fmt.Sprintf("%d reject rules", n))
	}
	if s.cfg.Latency > 0 {
		script = append(script, fmt.Sprintf("each batch takes %v", s.cfg.Latency))
	}
	if s.cfg.CrashOnBatch > 0 {
		script = append(script, fmt.Sprintf("the plugin crashes on batch %d", s.cfg.CrashOnBatch))
	}
	script1 := sdk.Step{Name: "script", Title: "Scripted behaviour", Status: sdk.StepPassed, Message: "every statement is delivered"}
	if len(script) > 0 {
		script1.Status, script1.Message = sdk.StepWarning, strings.Join(script, "; ")
	}
	steps = append(steps, script1)
	return sdk.Report{Steps: steps}, nil
}

// pathErrText describes a file error without the path.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
