package sinktest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// broken is a sink that breaks the contract in one way; check is the kit
// check that must notice.
type broken struct {
	check   string
	harness func() sinktest.Harness
}

// brokenProvider wraps the scripted sink with one defect.
type brokenProvider struct {
	// rewrite changes the configuration before the scripted sink sees it.
	rewrite func(map[string]any)
	// wrap wraps each configured instance.
	wrap func(p *brokenProvider, s sdk.Sink) sdk.Sink
	// open counts the instances not closed yet; calls counts
	// TestConnection calls.
	open, calls atomic.Int32
}

func (p *brokenProvider) Configure(ctx context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
	cfg := maps.Clone(req.Config)
	if p.rewrite != nil {
		p.rewrite(cfg)
	}
	req.Config = cfg
	s, err := scripted.Provider().Configure(ctx, req)
	if err != nil || p.wrap == nil {
		return s, err
	}
	p.open.Add(1)
	return p.wrap(p, s), nil
}

// wrapped is an instance with replaceable methods.
type wrapped struct {
	sdk.Sink
	p       *brokenProvider
	deliver func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error)
	closes  atomic.Int32
	closed  chan struct{}
	once    sync.Once
}

func (w *wrapped) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	if w.deliver != nil {
		return w.deliver(w, ctx, req)
	}
	return w.Sink.Deliver(ctx, req)
}

func (w *wrapped) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.p.open.Add(-1)
		close(w.closed)
	})
	if w.closes.Add(1) > 1 {
		return errors.New("already closed")
	}
	return w.Sink.Close(ctx)
}

func wrapDeliver(f func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error)) func(*brokenProvider, sdk.Sink) sdk.Sink {
	return func(p *brokenProvider, s sdk.Sink) sdk.Sink {
		return &wrapped{Sink: s, p: p, deliver: f, closed: make(chan struct{})}
	}
}

// closeTwiceFails is an instance whose second Close fails.
func closeTwiceFails(p *brokenProvider, s sdk.Sink) sdk.Sink {
	return &wrapped{Sink: s, p: p, closed: make(chan struct{})}
}

// countingTester is an instance whose connection test report changes from
// call to call, so that it differs between the direct and remote sides.
type countingTester struct{ *wrapped }

func (c countingTester) TestConnection(context.Context) (sdk.Report, error) {
	n := c.p.calls.Add(1)
	return sdk.Report{Steps: []sdk.Step{{Name: "call", Title: "Call", Status: sdk.StepPassed, Message: fmt.Sprint("call ", n)}}}, nil
}

func scriptedHarness(p sdk.Provider) sinktest.Harness {
	return sinktest.Harness{Provider: p, Config: scriptedConfig(nil), Timeout: 2 * time.Second}
}

var brokenSinks = map[string]broken{
	"fails every batch": {"Deliver", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{rewrite: func(m map[string]any) {
			if m["mode"] == scripted.ModeDeliver {
				m["mode"] = scripted.ModeRetryable
			}
		}})
	}},
	"requires the host's version mark": {"EncodedFor", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: wrapDeliver(func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
			for _, st := range req.Statements {
				if st.EncodedFor == "" {
					return sdk.DeliverResponse{}, sdk.Permanent(errors.New("statement not marked with its xapi version"))
				}
			}
			return w.Sink.Deliver(ctx, req)
		})})
	}},
	"refuses an empty batch": {"EmptyBatch", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: wrapDeliver(func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
			if len(req.Statements) == 0 {
				return sdk.DeliverResponse{}, errors.New("empty batch")
			}
			return w.Sink.Deliver(ctx, req)
		})})
	}},
	"ignores rejections": {"RejectStatements", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{rewrite: func(m map[string]any) {
			if m["mode"] == scripted.ModeReject {
				m["mode"] = scripted.ModeDeliver
				delete(m, "reject")
			}
		}})
	}},
	"loses error classes": {"ErrorClasses", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: wrapDeliver(func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
			resp, err := w.Sink.Deliver(ctx, req)
			if err != nil && !errors.Is(err, context.Canceled) {
				err = errors.New(err.Error())
			}
			return resp, err
		})})
	}},
	"accepts any configuration": {"InvalidConfig", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{rewrite: func(m map[string]any) {
			if m["mode"] == "no such mode" {
				m["mode"] = scripted.ModeDeliver
			}
		}})
	}},
	"ignores cancellation": {"Cancel", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: wrapDeliver(func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
			r, err := w.Sink.Deliver(ctx, req)
			if errors.Is(err, context.Canceled) {
				// A stalled delivery that goes on until the instance is
				// closed, whatever ctx says.
				<-w.closed
				return sdk.DeliverResponse{}, errors.New("gave up at close")
			}
			return r, err
		})})
	}},
	"serves one instance at a time": {"ConcurrentInstances", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: wrapDeliver(func(w *wrapped, ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
			if w.p.open.Load() > 1 {
				return sdk.DeliverResponse{}, errors.New("another instance is open")
			}
			return w.Sink.Deliver(ctx, req)
		})})
	}},
	"fails a second Close": {"CloseIdempotent", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: closeTwiceFails})
	}},
	"reports differently over the wire": {"OptionalInterfaces", func() sinktest.Harness {
		return scriptedHarness(&brokenProvider{wrap: func(p *brokenProvider, s sdk.Sink) sdk.Sink {
			return countingTester{&wrapped{Sink: s, p: p, closed: make(chan struct{})}}
		}})
	}},
	"ignores the egress policy": {"Egress", func() sinktest.Harness {
		return sinktest.Harness{
			Provider:      sdk.ProviderFunc(configurePlainHTTP),
			EgressSetting: "url",
			Timeout:       2 * time.Second,
			Egress:        loopbackHTTP,
			Config: func(t testing.TB, s sinktest.Scenario) map[string]any {
				if s.Behavior != sinktest.Deliver {
					return nil
				}
				srv := sinktest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusNoContent)
				}))
				return map[string]any{"url": srv.URL}
			},
		}
	}},
}

var loopbackHTTP = sdk.EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	AllowHTTP:  true,
}

// plainHTTPSink posts to its url with a client that ignores the egress
// policy: what the Egress check must catch.
type plainHTTPSink struct {
	url    string
	client *http.Client
}

func configurePlainHTTP(_ context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
	u, _ := req.Config["url"].(string)
	return &plainHTTPSink{url: u, client: &http.Client{Transport: &http.Transport{}}}, nil
}

func (s *plainHTTPSink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	if len(req.Statements) == 0 {
		return sdk.DeliverResponse{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(req.Statements[0].JSON))
	if err != nil {
		return sdk.DeliverResponse{}, sdk.Permanent(err)
	}
	resp, err := s.client.Do(hreq)
	if err != nil {
		return sdk.DeliverResponse{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return sdk.DeliverResponse{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	return sdk.DeliverResponse{}, nil
}

func (s *plainHTTPSink) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

// brokenEnv selects the broken sink TestBrokenSink runs.
const brokenEnv = "SINKTEST_SELFTEST_BROKEN"

// TestBrokenSink runs the kit against one broken sink. It runs only as a
// child process of TestKitFailsBrokenSinks, which expects it to fail.
func TestBrokenSink(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs as a child process of TestKitFailsBrokenSinks")
	}
	b, ok := brokenSinks[name]
	if !ok {
		t.Fatalf("no broken sink %q", name)
	}
	sinktest.Run(t, b.harness())
}

// TestKitFailsBrokenSinks proves that each check of the kit can fail: it
// runs the kit against sinks that each break the contract in one way, in a
// child test process, and expects the check for that way to fail, directly
// and over gRPC.
func TestKitFailsBrokenSinks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a test process per broken sink")
	}
	covered := map[string]bool{}
	for name, b := range brokenSinks {
		covered[b.check] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenSink$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("the kit passed a sink that %s (err %v); output:\n%s", name, err, out)
			}
			for _, side := range []string{"direct", "grpc"} {
				want := "--- FAIL: TestBrokenSink/" + side + "/" + b.check + " "
				if b.check == "OptionalInterfaces" && side == "direct" {
					continue // compared only in the grpc subtest
				}
				if b.check == "CloseIdempotent" && side == "grpc" {
					continue // the sdk's client closes a remote instance once
				}
				if !strings.Contains(string(out), want) {
					t.Errorf("check %s/%s did not fail for a sink that %s; output:\n%s", side, b.check, name, out)
				}
			}
		})
	}
	for _, name := range sinktest.CheckNames() {
		if !covered[name] {
			t.Errorf("no broken sink proves that check %s can fail", name)
		}
	}
}
