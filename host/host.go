package host

import (
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/supervise"
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
	// ErrPluginNotFound is returned when an integration names a plugin that
	// is not in the plugins directory.
	ErrPluginNotFound = supervise.ErrNotFound
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

// WithMetrics sets the receiver of measurements. Default: discard.
func WithMetrics(m Metrics) Option {
	return func(h *Host) {
		if m != nil {
			h.metrics = m
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
	metrics   Metrics
	now       func() time.Time
	egress    sdk.EgressPolicy
	providers map[string]sdk.Provider // in-process plugins, by name

	queues queueStore
	dead   deadLetterStore
	reg    registryStore
	counts registry.CountStore
	sup    *supervise.Supervisor
	norm   *normalize.Normalizer

	// savedCounts are the delivery counts saved by the previous run,
	// read once at start; countsMu serializes saving them, and
	// stopCounts and countsDone end the goroutine that saves them.
	savedCounts map[string]map[string]registry.Totals
	countsMu    sync.Mutex
	stopCounts  chan struct{}
	countsDone  chan struct{}

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

	// recording counts Record calls in progress, so Shutdown can wait
	// for them before it closes the queues.
	recording sync.WaitGroup
	shutdown  sync.Once
	shutErr   error

	refusedEvents sync.Map // org -> *atomic.Int64 (see recording.go)

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
	in     Integration // with secrets; never logged
	source string
	saved  time.Time
	q      queue.Queue
	// qerr is why the queue could not be opened; w is nil then.
	qerr     error
	w        *delivery.Worker
	counters *delivery.Counters
	// appends counts Record calls appending to q, so that a removal
	// drains q only after they have finished.
	appends sync.WaitGroup
}
