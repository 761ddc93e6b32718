// Package sinktest is the conformance kit for lrsbridge sinks. A sink author
// calls [Run] from a test with a [Harness]: the Provider under test and a way
// to configure instances that succeed or fail in each way the contract
// covers. Run checks the sink directly and again across a real gRPC
// connection to an in-process plugin server, the way a host talks to it:
// per-statement verdicts, statements delivered whether or not the host
// marked them as checked for an xAPI version ([sdk.Statement].EncodedFor),
// error classes preserved across the wire, context cancellation,
// concurrent deliveries to different instances, idempotent Close, optional
// interfaces seen the same on both sides, and, for a sink
// that connects out ([Harness].EgressSetting), that the egress policy
// refuses every internal address form, name and redirect. Run it with
// -race. Start test servers with [NewServer], which cannot hang a test on a
// stalled handler.
package sinktest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Behavior is a way an instance of the sink under test is made to behave,
// usually by pointing it at a scripted test server.
type Behavior int

// The behaviours the kit checks.
const (
	// Deliver: the destination accepts every statement.
	Deliver Behavior = iota
	// Reject: the destination rejects the statements whose ids are in
	// [Scenario].Reject as invalid (for an LRS: 400 Bad Request) and
	// accepts the others. The sink must give each rejected statement a
	// permanent verdict and deliver the others.
	Reject
	// FailRetryable: the destination fails in a way worth retrying (for an
	// LRS: 500 or 503 without Retry-After, or a refused connection).
	FailRetryable
	// FailRetryAfter: the destination asks to retry after
	// [Scenario].RetryAfter (for an LRS: 429 with Retry-After).
	FailRetryAfter
	// FailUnauthenticated: the destination rejects the credentials (401).
	FailUnauthenticated
	// FailForbidden: the destination refuses valid credentials (403).
	FailForbidden
	// Stall: the destination accepts the request and never answers, until
	// the sink gives up because its context is done.
	Stall
	// InvalidConfig: the configuration is invalid; Configure must fail with
	// a *sdk.ConfigError naming at least one field.
	InvalidConfig
)

var behaviorNames = map[Behavior]string{
	Deliver: "Deliver", Reject: "Reject", FailRetryable: "FailRetryable",
	FailRetryAfter: "FailRetryAfter", FailUnauthenticated: "FailUnauthenticated",
	FailForbidden: "FailForbidden", Stall: "Stall", InvalidConfig: "InvalidConfig",
}

// String returns the name of b.
func (b Behavior) String() string {
	if n, ok := behaviorNames[b]; ok {
		return n
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

// Scenario describes the instance the kit wants configured.
type Scenario struct {
	// Behavior is how the instance must behave.
	Behavior Behavior
	// Reject holds the ids of the statements the destination rejects, for
	// Behavior Reject.
	Reject []string
	// RetryAfter is the delay the destination asks for, for Behavior
	// FailRetryAfter. It is a whole number of seconds, at least one, so
	// that an HTTP Retry-After header can carry it.
	RetryAfter time.Duration
}

// Harness is what [Run] needs to know about the sink under test.
type Harness struct {
	// Provider is the Provider under test. It must be safe for concurrent
	// use: the kit configures and delivers from several goroutines.
	Provider sdk.Provider
	// Config returns the configuration of an instance behaving as s says.
	// It may start test servers and register their cleanup with t.Cleanup.
	// It returns nil if the sink cannot be made to behave that way; the
	// checks that need it are then skipped.
	Config func(t testing.TB, s Scenario) map[string]any
	// Egress is the egress policy passed to every Configure call, for
	// example to allow the loopback address of a test server.
	Egress sdk.EgressPolicy
	// Timeout bounds each call the kit makes, and how long it waits for a
	// stalled Deliver to return after its context is cancelled. Zero means
	// ten seconds.
	Timeout time.Duration
	// Logger receives the log of the in-process plugin server and client.
	// Nil discards.
	Logger *slog.Logger

	// remote is set by [RunRemote]: the sink runs in a process the kit does
	// not control, so checks that need the kit's resolver are skipped.
	remote bool
	// EgressSetting names the configuration key that holds the URL the
	// sink connects to (for example "endpoint" or "url"), for a sink that
	// connects out. The Egress check then configures instances with that
	// key set to loopback, private, link-local and metadata addresses (in
	// IPv4, IPv6, IPv4-mapped, IPv4-compatible, NAT64, decimal, octal and
	// hexadecimal forms, and as names that resolve to them through the
	// policy's Resolver, with no real DNS) and to an allowed server that
	// redirects to a refused address. Each must be refused: Configure fails
	// with a field error on the key, or Deliver and TestConnection fail
	// giving the policy's reason, and no connection is made. Empty skips
	// the check.
	EgressSetting string
}

// Run checks the sink of h against the contract of package sdk, in the
// subtests "direct" (calling the Provider) and "grpc" (through a plugin
// server in this process, over a real gRPC connection), each with one
// subtest per check.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Provider == nil || h.Config == nil {
		t.Fatal("sinktest: Harness needs a Provider and a Config function")
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.Egress = withKitResolver(h.Egress)
	t.Run("direct", func(t *testing.T) {
		runChecks(t, h, h.Provider, nil)
	})
	t.Run("grpc", func(t *testing.T) {
		remote := serveInProcess(t, h)
		runChecks(t, h, remote, h.Provider)
	})
}

// serveInProcess serves h.Provider in this process in test mode and returns
// the Provider of a host attached to it over gRPC.
func serveInProcess(t *testing.T, h Harness) sdk.Provider {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan sdk.ReattachConfig, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		// The policy's Resolver does not cross the wire: the served
		// Provider puts the kit's back, as the plugin process runs here.
		provider := sdk.ProviderFunc(func(ctx context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
			req.Egress.Resolver = h.Egress.Resolver
			return h.Provider.Configure(ctx, req)
		})
		sdk.Serve(provider, sdk.WithTestMode(ctx, func(rc sdk.ReattachConfig) { ready <- rc }), sdk.WithLogger(h.Logger))
	}()
	var rc sdk.ReattachConfig
	select {
	case rc = <-ready:
	case <-served:
		cancel()
		t.Fatal("sinktest: in-process plugin server stopped before it listened")
	case <-time.After(h.Timeout):
		cancel()
		t.Fatal("sinktest: in-process plugin server did not start in time")
	}
	lctx, lcancel := context.WithTimeout(context.Background(), h.Timeout)
	defer lcancel()
	proc, err := sdk.Launch(lctx, sdk.LaunchConfig{Reattach: &rc, Logger: h.Logger})
	if err != nil {
		cancel()
		<-served
		t.Fatalf("sinktest: attach to in-process plugin server: %v", err)
	}
	t.Cleanup(func() {
		proc.Kill()
		cancel()
		<-served
	})
	return proc.Provider()
}

type check struct {
	name string
	run  func(t *testing.T, c *checker)
}

var checks = []check{
	{"Deliver", checkDeliver},
	{"EncodedFor", checkEncodedFor},
	{"EmptyBatch", checkEmptyBatch},
	{"RejectStatements", checkReject},
	{"ErrorClasses", checkErrorClasses},
	{"InvalidConfig", checkInvalidConfig},
	{"Cancel", checkCancel},
	{"ConcurrentInstances", checkConcurrent},
	{"CloseIdempotent", checkClose},
	{"OptionalInterfaces", checkOptional},
	{"Egress", checkEgress},
}

// checker carries what every check needs.
type checker struct {
	h Harness
	p sdk.Provider
	// direct is the Provider called directly when p is remote, for the
	// checks that compare both sides; nil when p is direct.
	direct sdk.Provider
	seq    int
	mu     sync.Mutex
}

func runChecks(t *testing.T, h Harness, p, direct sdk.Provider) {
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			ch.run(t, &checker{h: h, p: p, direct: direct})
		})
	}
}

// ctx returns a context bounded by the harness timeout.
func (c *checker) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// configure configures an instance for s with p, or skips the test if the
// harness cannot make one.
func (c *checker) configure(t *testing.T, p sdk.Provider, s Scenario) sdk.Sink {
	t.Helper()
	cfg := c.h.Config(t, s)
	if cfg == nil {
		t.Skipf("harness cannot configure an instance for %v", s.Behavior)
	}
	sink, err := p.Configure(c.ctx(t), sdk.ConfigureRequest{Instance: c.handle(t), Org: "sinktest", Label: s.Behavior.String(), Config: cfg, Egress: c.h.Egress})
	if err != nil {
		t.Fatalf("Configure(%v) = %v", s.Behavior, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.h.Timeout)
		defer cancel()
		if err := sink.Close(ctx); err != nil {
			t.Errorf("Close(%v) = %v", s.Behavior, err)
		}
	})
	return sink
}

// Statements returns n valid xAPI 1.0.3 statements with fresh random ids,
// in canonical form, as the host hands them to sinks.
func Statements(n int) []sdk.Statement {
	out := make([]sdk.Statement, n)
	for i := range out {
		id := newUUID()
		out[i] = sdk.Statement{ID: id, JSON: fmt.Appendf(nil,
			`{"id":"%s","actor":{"objectType":"Agent","mbox":"mailto:learner%d@example.com"},`+
				`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced","display":{"en-US":"experienced"}},`+
				`"object":{"objectType":"Activity","id":"https://example.com/activities/sinktest"},`+
				`"timestamp":"2026-01-02T03:04:05.000Z"}`, id, i)}
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// outcome is the summary of one statement's result, for comparison.
type outcome struct {
	Delivered bool
	Class     string
	Delay     time.Duration
	HasDelay  bool
}

// outcomes folds a Deliver result into one outcome per statement: a
// whole-batch error applies to every statement.
func outcomes(t *testing.T, n int, resp sdk.DeliverResponse, err error) []outcome {
	t.Helper()
	out := make([]outcome, n)
	if err != nil {
		for i := range out {
			out[i] = errOutcome(err)
		}
		return out
	}
	if resp.Verdicts == nil {
		for i := range out {
			out[i].Delivered = true
		}
		return out
	}
	if len(resp.Verdicts) != n {
		t.Fatalf("Deliver returned %d verdicts for %d statements; want none or one per statement", len(resp.Verdicts), n)
	}
	for i, v := range resp.Verdicts {
		if v.Err == nil || v.AlreadyStored {
			out[i].Delivered = true
			continue
		}
		out[i] = errOutcome(v.Err)
	}
	return out
}

func errOutcome(err error) outcome {
	o := outcome{Class: sdk.ClassOf(err).String()}
	o.Delay, o.HasDelay = sdk.RetryDelay(err)
	return o
}

func (c *checker) deliver(t *testing.T, sink sdk.Sink, sts []sdk.Statement) []outcome {
	t.Helper()
	resp, err := sink.Deliver(c.ctx(t), sdk.DeliverRequest{Statements: sts})
	return outcomes(t, len(sts), resp, err)
}

func repeat(o outcome, n int) []outcome {
	out := make([]outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

func checkDeliver(t *testing.T, c *checker) {
	sink := c.configure(t, c.p, Scenario{Behavior: Deliver})
	for _, n := range []int{1, 7} {
		got := c.deliver(t, sink, Statements(n))
		if diff := cmp.Diff(repeat(outcome{Delivered: true}, n), got); diff != "" {
			t.Errorf("Deliver of %d statements: outcomes mismatch (-want +got):\n%s", n, diff)
		}
	}
}

// checkEncodedFor delivers statements marked as checked by the host for
// each xAPI version ([sdk.Statement].EncodedFor), and unmarked, as a host
// older than the mark sends them. The kit's statements are valid in both
// versions: a sink may skip its own version check when the mark names the
// version it sends, but must deliver every statement either way.
func checkEncodedFor(t *testing.T, c *checker) {
	sink := c.configure(t, c.p, Scenario{Behavior: Deliver})
	for _, v := range []xapi.Version{"", xapi.V103, xapi.V200} {
		sts := Statements(3)
		for i := range sts {
			sts[i].EncodedFor = v
		}
		got := c.deliver(t, sink, sts)
		if diff := cmp.Diff(repeat(outcome{Delivered: true}, len(sts)), got); diff != "" {
			t.Errorf("Deliver of statements with EncodedFor %q: outcomes mismatch (-want +got):\n%s", v, diff)
		}
	}
}

func checkEmptyBatch(t *testing.T, c *checker) {
	sink := c.configure(t, c.p, Scenario{Behavior: Deliver})
	resp, err := sink.Deliver(c.ctx(t), sdk.DeliverRequest{})
	if err != nil {
		t.Fatalf("Deliver(empty batch) = %v; want nil", err)
	}
	if len(resp.Verdicts) != 0 {
		t.Errorf("Deliver(empty batch) returned %d verdicts; want none", len(resp.Verdicts))
	}
}

func checkReject(t *testing.T, c *checker) {
	sts := Statements(5)
	reject := []string{sts[1].ID, sts[3].ID}
	sink := c.configure(t, c.p, Scenario{Behavior: Reject, Reject: reject})
	got := c.deliver(t, sink, sts)
	perm := outcome{Class: sdk.ClassPermanent.String()}
	ok := outcome{Delivered: true}
	want := []outcome{ok, perm, ok, perm, ok}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deliver with statements 1 and 3 rejected: outcomes mismatch (-want +got):\n%s", diff)
	}
}

func checkErrorClasses(t *testing.T, c *checker) {
	tests := []struct {
		scenario Scenario
		want     outcome
	}{
		{Scenario{Behavior: FailRetryable}, outcome{Class: sdk.ClassRetryable.String()}},
		{Scenario{Behavior: FailRetryAfter, RetryAfter: 3 * time.Second}, outcome{Class: sdk.ClassRetryable.String(), Delay: 3 * time.Second, HasDelay: true}},
		{Scenario{Behavior: FailUnauthenticated}, outcome{Class: sdk.ClassUnauthenticated.String()}},
		{Scenario{Behavior: FailForbidden}, outcome{Class: sdk.ClassForbidden.String()}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario.Behavior.String(), func(t *testing.T) {
			sink := c.configure(t, c.p, tt.scenario)
			got := c.deliver(t, sink, Statements(3))
			if diff := cmp.Diff(repeat(tt.want, 3), got); diff != "" {
				t.Errorf("Deliver to an instance that behaves as %v: outcomes mismatch (-want +got):\n%s", tt.scenario.Behavior, diff)
			}
		})
	}
}

func checkInvalidConfig(t *testing.T, c *checker) {
	cfg := c.h.Config(t, Scenario{Behavior: InvalidConfig})
	if cfg == nil {
		t.Skip("harness cannot make an invalid configuration")
	}
	sink, err := c.p.Configure(c.ctx(t), sdk.ConfigureRequest{Instance: "sinktest/invalid/" + t.Name(), Org: "sinktest", Config: cfg, Egress: c.h.Egress})
	if err == nil {
		_ = sink.Close(c.ctx(t))
		t.Fatal("Configure(invalid config) = nil error; want a *sdk.ConfigError")
	}
	var cerr *sdk.ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("Configure(invalid config) = %v; want a *sdk.ConfigError", err)
	}
	if len(cerr.Fields) == 0 {
		t.Errorf("Configure(invalid config) = %v; want at least one field error", err)
	}
	for _, f := range cerr.Fields {
		if f.Field == "" || f.Message == "" {
			t.Errorf("field error %+v: want both a field and a message", f)
		}
	}
}

func checkCancel(t *testing.T, c *checker) {
	sink := c.configure(t, c.p, Scenario{Behavior: Stall})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		_, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: Statements(2)})
		done <- result{err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Deliver to a stalled destination returned %v before its context was cancelled", r.err)
	case <-time.After(50 * time.Millisecond):
		// Give the call time to reach the destination; the check below
		// does not depend on it having done so.
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("Deliver after cancel = %v; want an error wrapping context.Canceled", r.err)
		}
	case <-time.After(c.h.Timeout):
		t.Fatalf("Deliver did not return within %v after its context was cancelled", c.h.Timeout)
	}
}

func checkConcurrent(t *testing.T, c *checker) {
	const instances, rounds, batch = 4, 5, 3
	sinks := make([]sdk.Sink, instances)
	for i := range sinks {
		sinks[i] = c.configure(t, c.p, Scenario{Behavior: Deliver})
	}
	ctx := c.ctx(t)
	errs := make(chan error, instances*rounds*2)
	var wg sync.WaitGroup
	for i, sink := range sinks {
		for g := range 2 {
			wg.Go(func() {
				for r := range rounds {
					resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: Statements(batch)})
					if err == nil && resp.Verdicts != nil {
						for _, v := range resp.Verdicts {
							if v.Err != nil && !v.AlreadyStored {
								err = v.Err
							}
						}
					}
					if err != nil {
						errs <- fmt.Errorf("instance %d, goroutine %d, round %d: %w", i, g, r, err)
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Deliver: %v", err)
	}
}

func checkClose(t *testing.T, c *checker) {
	cfg := c.h.Config(t, Scenario{Behavior: Deliver})
	if cfg == nil {
		t.Skip("harness cannot configure an instance that delivers")
	}
	sink, err := c.p.Configure(c.ctx(t), sdk.ConfigureRequest{Instance: "sinktest/close/" + t.Name(), Org: "sinktest", Config: cfg, Egress: c.h.Egress})
	if err != nil {
		t.Fatalf("Configure = %v", err)
	}
	if got := c.deliver(t, sink, Statements(1)); !got[0].Delivered {
		t.Fatalf("Deliver before Close: %+v; want delivered", got[0])
	}
	for i := range 3 {
		if err := sink.Close(c.ctx(t)); err != nil {
			t.Errorf("Close call %d = %v; want nil", i+1, err)
		}
	}
}

func checkOptional(t *testing.T, c *checker) {
	if c.direct == nil {
		t.Skip("compares a remote instance with a direct one; runs in the grpc subtest")
	}
	local := c.configure(t, c.direct, Scenario{Behavior: Deliver})
	remote := c.configure(t, c.p, Scenario{Behavior: Deliver})

	_, localTester := local.(sdk.ConnectionTester)
	rt, remoteTester := remote.(sdk.ConnectionTester)
	if localTester != remoteTester {
		t.Errorf("ConnectionTester: direct instance %v, remote instance %v; want the same", localTester, remoteTester)
	}
	if localTester && remoteTester {
		want, werr := local.(sdk.ConnectionTester).TestConnection(c.ctx(t))
		got, gerr := rt.TestConnection(c.ctx(t))
		if (werr == nil) != (gerr == nil) {
			t.Errorf("TestConnection error: direct %v, remote %v", werr, gerr)
		}
		// Timings differ from one run to the next; everything else must
		// survive the wire.
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(sdk.Step{}, "Duration")); diff != "" {
			t.Errorf("TestConnection report across the wire mismatch (-direct +remote):\n%s", diff)
		}
		for i, st := range got.Steps {
			if st.Duration < 0 {
				t.Errorf("step %d (%s) has a negative duration %v", i, st.Name, st.Duration)
			}
		}
	}
	lv, localVersion := local.(sdk.VersionReporter)
	rv, remoteVersion := remote.(sdk.VersionReporter)
	if localVersion != remoteVersion {
		t.Errorf("VersionReporter: direct instance %v, remote instance %v; want the same", localVersion, remoteVersion)
	}
	if localVersion && remoteVersion && lv.XAPIVersion() != rv.XAPIVersion() {
		t.Errorf("XAPIVersion: direct %q, remote %q; want the same", lv.XAPIVersion(), rv.XAPIVersion())
	}
}

// CheckNames returns the names of the kit's checks, in the order Run runs
// them: the names of the subtests below "direct" and "grpc".
func CheckNames() []string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.name
	}
	return names
}
