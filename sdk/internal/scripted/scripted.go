// Package scripted is a sink whose behaviour is chosen by its configuration,
// for the tests and benchmarks of the SDK: the plugin binary of the
// acceptance tests serves it, the conformance kit is checked against it, and
// benchmarks call it directly and through a plugin process.
package scripted

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// The modes of a scripted instance, the value of the config key "mode".
const (
	ModeDeliver         = "deliver"         // every statement delivered
	ModeReject          = "reject"          // statements listed in "reject" get permanent verdicts
	ModeRetryable       = "retryable"       // the batch fails, retryable
	ModeRetryAfter      = "retry_after"     // the batch fails, retry after "retry_after_ms"
	ModeUnauthenticated = "unauthenticated" // the batch fails, credentials rejected
	ModeForbidden       = "forbidden"       // the batch fails, credentials not permitted
	ModeStall           = "stall"           // Deliver blocks until its context is done
	ModePanic           = "panic"           // Deliver panics
	ModeExit            = "exit"            // Deliver exits the process with status 3
)

// Provider returns the scripted Provider. Config keys: "mode" (one of the
// Mode constants, required), "reject" (list of statement ids), "retry_after_ms"
// (number), "print" (bool: print to stdout in Configure and Deliver),
// "garbage_lines" (number: lines of garbage to print to stdout in each
// Deliver), "tester" (bool: implement ConnectionTester), "xapi_version"
// (string: implement VersionReporter).
func Provider() sdk.Provider {
	return sdk.ProviderFunc(configure)
}

var modes = map[string]bool{
	ModeDeliver: true, ModeReject: true, ModeRetryable: true, ModeRetryAfter: true,
	ModeUnauthenticated: true, ModeForbidden: true, ModeStall: true, ModePanic: true, ModeExit: true,
}

func configure(_ context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
	var cerr sdk.ConfigError
	mode, _ := req.Config["mode"].(string)
	if !modes[mode] {
		cerr.Add("mode", "must be one of the scripted modes")
	}
	s := &Sink{mode: mode, reject: map[string]bool{}}
	if list, ok := req.Config["reject"].([]any); ok {
		for _, id := range list {
			if id, ok := id.(string); ok {
				s.reject[id] = true
			}
		}
	}
	if ms, ok := req.Config["retry_after_ms"].(float64); ok {
		s.retryAfter = time.Duration(ms) * time.Millisecond
	}
	s.print, _ = req.Config["print"].(bool)
	if n, ok := req.Config["garbage_lines"].(float64); ok {
		s.garbage = int(n)
	}
	if err := cerr.Err(); err != nil {
		return nil, err
	}
	if s.print {
		fmt.Println("scripted: configuring", req.Instance)
	}
	tester, _ := req.Config["tester"].(bool)
	version, _ := req.Config["xapi_version"].(string)
	switch {
	case tester && version != "":
		return &testerVersionSink{testerSink{s}, xapi.Version(version)}, nil
	case tester:
		return &testerSink{s}, nil
	case version != "":
		return &versionSink{s, xapi.Version(version)}, nil
	}
	return s, nil
}

// Sink is a scripted sink instance.
type Sink struct {
	mode       string
	reject     map[string]bool
	retryAfter time.Duration
	print      bool
	garbage    int
	closes     atomic.Int32
}

// Deliver behaves as the mode of s says.
func (s *Sink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	if s.print {
		fmt.Println("scripted: delivering", len(req.Statements), "statements")
	}
	for i := range s.garbage {
		fmt.Printf("garbage %d \x01\x02 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n", i)
	}
	switch s.mode {
	case ModeRetryable:
		return sdk.DeliverResponse{}, errors.New("scripted: destination unavailable")
	case ModeRetryAfter:
		return sdk.DeliverResponse{}, sdk.RetryAfter(errors.New("scripted: slow down"), s.retryAfter)
	case ModeUnauthenticated:
		return sdk.DeliverResponse{}, sdk.Unauthenticated(errors.New("scripted: credentials rejected"))
	case ModeForbidden:
		return sdk.DeliverResponse{}, sdk.Forbidden(errors.New("scripted: not permitted"))
	case ModeStall:
		<-ctx.Done()
		return sdk.DeliverResponse{}, fmt.Errorf("scripted: %w", ctx.Err())
	case ModePanic:
		panic("scripted: deliberate panic")
	case ModeExit:
		os.Exit(3)
	case ModeReject:
		vs := make([]sdk.Verdict, len(req.Statements))
		for i, st := range req.Statements {
			if s.reject[st.ID] {
				vs[i].Err = sdk.Permanent(fmt.Errorf("scripted: statement %s rejected", st.ID))
			}
		}
		return sdk.DeliverResponse{Verdicts: vs}, nil
	}
	return sdk.DeliverResponse{}, nil
}

// Close counts its calls and returns nil.
func (s *Sink) Close(context.Context) error {
	s.closes.Add(1)
	return nil
}

type testerSink struct{ *Sink }

func (testerSink) TestConnection(context.Context) (sdk.Report, error) {
	return sdk.Report{Steps: []sdk.Step{
		{Name: "url", Title: "Check the URL", Status: sdk.StepPassed, Message: "scripted", Duration: time.Millisecond},
		{Name: "auth", Title: "Check the credentials", Status: sdk.StepWarning, Message: "scripted warning", Duration: 2 * time.Millisecond},
	}}, nil
}

type versionSink struct {
	*Sink
	v xapi.Version
}

func (s versionSink) XAPIVersion() xapi.Version { return s.v }

type testerVersionSink struct {
	testerSink
	v xapi.Version
}

func (s testerVersionSink) XAPIVersion() xapi.Version { return s.v }
