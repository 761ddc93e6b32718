package host

import (
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/supervise"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk"
)

// Errors callers branch on.
var (
	// ErrClosed is returned by every method after Shutdown.
	ErrClosed = errors.New("host is shut down")
	// ErrOrgUnknown is returned for an organization that is not configured.
	ErrOrgUnknown = errors.New("unknown organization")
	// ErrNoSinks is returned when recording for an organization without
	// integrations: nothing would deliver the statements, so they are not
	// accepted.
	ErrNoSinks = errors.New("organization has no integrations")
	// ErrIntegrationUnknown is returned for an integration id an
	// organization does not have.
	ErrIntegrationUnknown = errors.New("unknown integration")
	// ErrTestFailed is returned by SaveIntegration when the candidate's
	// connection test failed and the save was not forced.
	ErrTestFailed = errors.New("connection test failed")
	// ErrFull is returned by Record when a queue quota (per sink instance,
	// per organization or in total) is reached. Nothing was dropped; retry
	// later.
	ErrFull = queue.ErrFull
	// ErrUnknownPlugin is returned (wrapped) by TestIntegration and
	// SaveIntegration when the integration names a plugin that is not
	// installed (not in the plugins directory, and not given with
	// WithProvider): the admin's choice is wrong, not the host.
	ErrUnknownPlugin = supervise.ErrNotFound
	// ErrPluginNotFound is ErrUnknownPlugin, under its former name.
	ErrPluginNotFound = ErrUnknownPlugin
	// ErrPluginUnusable is returned (wrapped) when a plugin cannot run
	// until an operator fixes it: its file is missing (the error then
	// wraps ErrUnknownPlugin too) or does not match its configured
	// checksum (sdk.ErrChecksumMismatch). An integration that meets it
	// while delivering is paused (StatePausedPlugin) and resumes by itself
	// once the file is usable again.
	ErrPluginUnusable = delivery.ErrPluginUnusable
)

// Option configures a Host.
type Option func(*Host)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(h *Host) {
		if l != nil {
			h.log = l
		}
	}
}

// WithMetrics hands the host's counters and histograms to m, under the
// names of the OpenTelemetry metrics, with every organization's own id
// (telemetry.attributes.mode is then "all"); the gauges, which m cannot
// carry, are left out. It replaces an earlier [WithMeterProvider].
//
// Deprecated: the host measures with OpenTelemetry; use
// [WithMeterProvider]. WithMetrics is an adapter kept for one release.
func WithMetrics(m Metrics) Option {
	return func(h *Host) {
		if m != nil {
			h.meterProvider = telemetry.Bridge(m)
			h.bridged = true
		}
	}
}

// WithClock sets the clock used for event arrival times. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(h *Host) {
		if now != nil {
			h.now = now
		}
	}
}

// WithProvider serves the integrations of plugin with p, in the host's
// process, instead of starting the plugin's executable: for sinks built
// into the embedding program, and for tests. Default: every plugin runs
// as a process from plugins.dir.
func WithProvider(plugin string, p sdk.Provider) Option {
	return func(h *Host) {
		if p != nil {
			h.providers[plugin] = p
		}
	}
}

// Host delivers statements of many organizations durably to their sink
// plugins. Its methods are safe for concurrent use.
type Host struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	egress    sdk.EgressPolicy
	providers map[string]sdk.Provider // in-process plugins, by name

	// meterProvider and tracerProvider are the options' (nil: the global
	// ones); bridged says the meter provider adapts WithMetrics.
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
	bridged        bool
	tel            *telemetry.Telemetry
	unobserve      func() error // unregisters the gauges

	queues queueStore
	dead   deadLetterStore
	state  stateStore
	reg    registryStore
	counts registry.CountStore
	sup    *supervise.Supervisor
	norm   *normalize.Normalizer

	// savedCounts are the delivery counts saved by the previous run,
	// read once at start; countsMu serializes saving them, and
	// stopCounts and countsDone end the goroutine that saves them.
	savedCounts map[string]map[string]registry.Totals
	countsMu    sync.Mutex
	countsEvery time.Duration // countsEvery; tests make it shorter
	// shCounts is the count store of the jetstream backend (h.counts
	// too), nil with the file backend.
	shCounts   *sharedCounts
	stopCounts chan struct{}
	countsDone chan struct{}
	// stopHeal and healDone end the goroutine that resumes integrations
	// paused for an unusable plugin once it is usable again.
	stopHeal, healDone chan struct{}
	healEvery          time.Duration

	// admin serializes changes of organizations and integrations with
	// their persistence. Recording never takes it.
	admin sync.Mutex
	// mu guards the fields below. It is held only to look up and to swap,
	// never for slow work (persistence, stopping a worker, closing a sink,
	// draining a queue), so that one organization never waits for
	// another's changes.
	mu       sync.RWMutex
	orgs     map[string]*org
	saved    registry.State
	closed   bool
	retiring map[queue.Key]chan struct{} // queues being drained after a removal
	// removingOrgs are closed once a removed organization's data is
	// archived; PutOrg of the same id waits for it.
	removingOrgs map[string]chan struct{}
	// events counts RecordEvent calls in progress per organization;
	// RemoveOrg waits for them before it archives SCORM state.
	events eventCalls
	// hookEventQueued and hookRemoveWaits are test hooks: called by
	// RecordEvent once its statements are queued and before it saves
	// the attempt state, and by RemoveOrg when it starts waiting for
	// those calls. Nil outside tests.
	hookEventQueued func(Event)
	hookRemoveWaits func(org string)

	// recording counts Record calls in progress, so Shutdown can wait
	// for them before it closes the queues.
	recording sync.WaitGroup
	shutdown  sync.Once
	shutErr   error

	refusedEvents sync.Map // org -> *atomic.Int64 (see recording.go)

	// replay bounds the chunks of ReplayDeadLetters (replayChunk; tests
	// make it smaller).
	replay deadletter.Chunk
	// stopWatch ends the watch of the shared registry and the status
	// exchange and waits for them; peers is the status exchange
	// (jetstream backend only; see shared.go and sharedstatus.go).
	stopWatch func()
	peers     *sharedStatus
}

// org is one organization in effect. Its fields are replaced under h.mu,
// never changed in place, so a reader may keep what it looked up.
type org struct {
	id       string
	settings OrgSettings
	// list holds the integrations sorted by id.
	list []*integration
}

func (o *org) find(id string) *integration {
	for _, it := range o.list {
		if it.in.ID == id {
			return it
		}
	}
	return nil
}

// with returns a copy of o in which it replaces the integration with its
// id, or, when it is nil, one without the integration id.
func (o *org) with(id string, it *integration) *org {
	next := &org{id: o.id, settings: o.settings, list: make([]*integration, 0, len(o.list)+1)}
	for _, x := range o.list {
		if x.in.ID != id {
			next.list = append(next.list, x)
		}
	}
	if it != nil {
		next.list = append(next.list, it)
		sort.Slice(next.list, func(i, j int) bool { return next.list[i].in.ID < next.list[j].in.ID })
	}
	return next
}

// integration is one integration in effect: its configuration, its queue
// and the worker delivering it.
type integration struct {
	org    string
	in     Integration // with secrets; never logged
	source string
	saved  time.Time
	q      queue.Queue
	// qerr is why the queue could not be opened; w is nil then.
	qerr     error
	w        *delivery.Worker
	tel      *telemetry.Integration
	counters *delivery.Counters
	// appends counts Record calls appending to q, so that a removal
	// drains q only after they have finished.
	appends sync.WaitGroup
}
