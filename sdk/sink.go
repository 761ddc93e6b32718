package sdk

import (
	"context"
	"net/netip"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Statement is one statement handed to a sink: its id and its canonical JSON
// bytes, already encoded by the host for the xAPI version of the instance.
// A sink must not modify JSON; the host may reuse the bytes after Deliver
// returns.
type Statement struct {
	// ID is the statement id (a UUID), the same as the "id" property in JSON.
	ID string
	// JSON is the canonical JSON encoding of the statement.
	JSON []byte
	// EncodedFor is the xAPI version the host encoded JSON for and checked
	// it against, once, when the statement was recorded: JSON holds
	// nothing that version leaves out, so xapi.ForVersion(JSON, EncodedFor)
	// would return JSON unchanged, and a sink sending to a store of that
	// version may send JSON as it is, without scanning it again. The host
	// sets it to the version the instance reports ([VersionReporter], 1.0.3
	// by default).
	//
	// It is empty when the host did not check: a host older than this
	// field (it does not send it), a statement recorded by an older host
	// and not checked since, or a caller that built the request itself. A
	// sink that needs the bytes for a given version then checks them
	// itself, with xapi.ForVersion. A sink must never require it.
	EncodedFor xapi.Version
}

// DeliverRequest is a batch of statements to deliver.
type DeliverRequest struct {
	// Statements are the statements of the batch, in the order the host
	// wants them stored.
	Statements []Statement
}

// Verdict is the outcome for one statement.
//
// Err == nil means the statement was delivered. AlreadyStored means it was
// delivered earlier (for example an LRS answered 409 Conflict or already had
// a statement with the same id); it counts as delivered. Otherwise Err is
// classified with [Permanent], [RetryAfter], [Unauthenticated] or
// [Forbidden]; an unclassified error is retryable.
type Verdict struct {
	// Err is nil if the statement was delivered, or why it was not.
	Err error
	// AlreadyStored reports that the statement had been delivered before.
	AlreadyStored bool
}

// DeliverResponse has one verdict per statement of the request, in request
// order. Nil Verdicts together with a nil error means every statement was
// delivered.
type DeliverResponse struct {
	// Verdicts holds the outcome of each statement, in request order. It is
	// either nil or exactly as long as the request's Statements.
	Verdicts []Verdict
}

// Sink is one configured sink instance: one organization's integration with
// one destination.
//
// Deliver may be called concurrently from several goroutines, also while
// another Deliver is in progress; an implementation must be safe for that.
// Close is called once the host no longer needs the instance; after Close no
// Deliver is started. Close is idempotent: calling it again returns nil.
type Sink interface {
	// Deliver sends a batch. It returns an error for whole-batch failures
	// (network down, credentials rejected), classified with the helpers of
	// this package; per-statement outcomes go in the verdicts of the
	// response. Deliver must return promptly once ctx is done, with an
	// error that wraps ctx.Err().
	Deliver(ctx context.Context, req DeliverRequest) (DeliverResponse, error)
	// Close releases the resources of the instance. It is idempotent.
	Close(ctx context.Context) error
}

// Provider configures sink instances. One plugin process serves one
// Provider, which may configure many instances (many organizations), each
// addressed by the Instance handle of its [ConfigureRequest].
//
// Configure may be called concurrently. Configuring a handle again replaces
// the instance: the host closes the old one first.
type Provider interface {
	// Configure validates req.Config and returns a ready instance. Invalid
	// configuration is reported as a *[ConfigError].
	Configure(ctx context.Context, req ConfigureRequest) (Sink, error)
}

// ProviderFunc adapts a function to the [Provider] interface.
type ProviderFunc func(ctx context.Context, req ConfigureRequest) (Sink, error)

// Configure calls f(ctx, req).
func (f ProviderFunc) Configure(ctx context.Context, req ConfigureRequest) (Sink, error) {
	return f(ctx, req)
}

// ConfigureRequest asks a [Provider] for one sink instance.
type ConfigureRequest struct {
	// Instance is the handle the host chose for the instance, unique within
	// one plugin process, for example "acme/lrs-1".
	Instance string
	// Org is the id of the organization the instance belongs to.
	Org string
	// Label is the integration label an organization admin entered.
	Label string
	// Config is the opaque configuration of the instance. Its values are
	// JSON-compatible: string, float64, bool, nil, []any and map[string]any.
	// It may hold secrets: never log it or put it in errors.
	Config map[string]any
	// Egress is the network policy of the host operator for endpoints
	// entered by organizations.
	Egress EgressPolicy
}

// EgressPolicy is the host operator's policy for outbound connections to
// endpoints entered by organizations. By default a sink refuses loopback,
// private, link-local and cloud metadata addresses and plain http:// URLs.
// [EgressPolicy.Client] and [NewEgressDialer] apply it to every connection.
type EgressPolicy struct {
	// AllowCIDRs lists address ranges that would otherwise be refused
	// (loopback, private, link-local, metadata) and are allowed.
	AllowCIDRs []netip.Prefix
	// AllowHTTP allows plain http:// endpoints.
	AllowHTTP bool
	// Resolver, when set, resolves host names for the dialers built from
	// the policy ([EgressDialer], [EgressPolicy.Client]) instead of the
	// system resolver. The host never sets it and it does not cross the
	// plugin boundary: tests and the conformance kit use it to make names
	// resolve to chosen addresses without real DNS.
	Resolver Resolver
}

// Allows reports whether addr is inside one of the AllowCIDRs of p.
func (p EgressPolicy) Allows(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, pfx := range p.AllowCIDRs {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// ConnectionTester is an optional interface of a [Sink] that can check its
// connection (reachability, TLS, credentials) without delivering anything.
// The host discovers it by type assertion, also across the plugin boundary.
type ConnectionTester interface {
	// TestConnection runs the checks and reports each as a [Step]. The
	// error is for a failure to run the checks at all; failed checks are
	// failed steps.
	TestConnection(ctx context.Context) (Report, error)
}

// VersionReporter is an optional interface of a [Sink] that needs statements
// encoded for a particular xAPI version. Without it the host encodes for
// xapi.V103. The host discovers it by type assertion, also across the plugin
// boundary; the version is read once when the instance is configured.
type VersionReporter interface {
	// XAPIVersion returns the xAPI version statements must be encoded for.
	XAPIVersion() xapi.Version
}

// Report is the result of [ConnectionTester.TestConnection].
type Report struct {
	// Steps are the checks that were run, in order.
	Steps []Step
}

// OK reports whether no step failed. Warnings and skipped steps are allowed.
func (r Report) OK() bool {
	for _, s := range r.Steps {
		if s.Status == StepFailed {
			return false
		}
	}
	return true
}

// Step is one named check of a connection test.
type Step struct {
	// Name is a short machine-friendly name, for example "url", "dns",
	// "tls", "about" or "auth".
	Name string
	// Title is a human title, for example "Reach the LRS".
	Title string
	// Status is the outcome of the check.
	Status StepStatus
	// Message explains the outcome to an organization admin. It never
	// contains secrets.
	Message string
	// Duration is how long the check took.
	Duration time.Duration
}

// StepStatus is the outcome of a [Step].
type StepStatus int

// The outcomes of a step. The zero StepStatus is not a valid outcome.
const (
	// StepPassed means the check succeeded.
	StepPassed StepStatus = iota + 1
	// StepWarning means the check found something worth attention that does
	// not prevent delivery.
	StepWarning
	// StepFailed means the check failed; delivery will not work.
	StepFailed
	// StepSkipped means the check was not run, usually because an earlier
	// step failed.
	StepSkipped
)

// String returns the lower-case name of s: "passed", "warning", "failed",
// "skipped", or "unknown".
func (s StepStatus) String() string {
	switch s {
	case StepPassed:
		return "passed"
	case StepWarning:
		return "warning"
	case StepFailed:
		return "failed"
	case StepSkipped:
		return "skipped"
	}
	return "unknown"
}
