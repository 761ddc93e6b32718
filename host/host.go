package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// OrgSettings are an organization's normalization settings, loaded from the
// keys under orgs.<id> of the configuration.
type OrgSettings = normalize.Settings

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

// Host delivers statements of many organizations durably to their sink
// plugins. Its methods are safe for concurrent use.
type Host struct {
	cfg     Config
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	egress  sdk.EgressPolicy

	queues queueStore
	dead   *deadLetters
	store  *integrationStore
	sup    *supervisor
	norm   *normalize.Normalizer

	mu        sync.RWMutex // guards orgs, saved, savedOrgs and closed
	orgs      map[string]*org
	saved     map[string][]savedIntegration
	savedOrgs map[string]savedOrg
	closed    bool
	// recording counts Record calls in progress, so Shutdown can wait
	// for them before it closes the queues.
	recording sync.WaitGroup
	shutdown  sync.Once
	shutErr   error

	refusedEvents sync.Map // org -> *atomic counter (see events.go)
}

// queueStore is what the host needs of a queue engine: the embedded
// file-backed store (host/internal/queue) implements it, and a shared
// engine for deployments with several hosts can replace it.
type queueStore interface {
	// Queue opens or creates the queue of one integration.
	Queue(org, sink string) (queue.Queue, error)
	// Remove deletes a queue.
	Remove(org, sink string) error
	// Queues lists the queues that exist, for recovery at start.
	Queues() []queue.Key
	// Close closes every queue.
	Close() error
}

var _ queueStore = (*queue.Store)(nil)

type org struct {
	id       string
	settings OrgSettings
	config   map[string]Integration // from the configuration file, by id
	workers  map[string]*worker     // active integrations, by id
	order    []string               // integration ids in a stable order
	sources  map[string]string
	savedAt  map[string]time.Time
}

// New starts a host: it opens the data directory, recovers queues, and
// starts delivery for every configured integration (plugins start lazily,
// on the first batch).
func New(cfg Config, opts ...Option) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Host{
		cfg:     cfg,
		log:     slog.New(slog.DiscardHandler),
		metrics: discardMetrics{},
		now:     time.Now,
		orgs:    map[string]*org{},
	}
	for _, o := range opts {
		o(h)
	}
	for _, c := range cfg.Egress.AllowCIDRs {
		p, _ := netip.ParsePrefix(c) // validated
		h.egress.AllowCIDRs = append(h.egress.AllowCIDRs, p)
	}
	h.egress.AllowHTTP = cfg.Egress.AllowHTTP
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	box, err := newSecretBox(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	h.store = &integrationStore{path: filepath.Join(cfg.DataDir, "integrations.json"), box: box}
	if h.saved, h.savedOrgs, err = h.store.load(); err != nil {
		return nil, err
	}
	sync := queue.SyncAlways
	switch cfg.Queue.Sync {
	case "group":
		sync = queue.SyncGroup
	case "none":
		sync = queue.SyncNone
	}
	h.queues, err = queue.Open(queue.Options{
		Dir:           filepath.Join(cfg.DataDir, "queues"),
		Sync:          sync,
		GroupWindow:   cfg.Queue.GroupWindow,
		MaxQueueBytes: cfg.Queue.MaxQueueBytes,
		MaxOrgBytes:   cfg.Queue.MaxOrgBytes,
		MaxTotalBytes: cfg.Queue.MaxTotalBytes,
		Logger:        h.log,
	})
	if err != nil {
		return nil, fmt.Errorf("open queues: %w", err)
	}
	h.dead = &deadLetters{dir: filepath.Join(cfg.DataDir, "deadletter")}
	h.norm = normalize.New(&fileState{dir: filepath.Join(cfg.DataDir, "state")}, func() time.Time { return h.now() })
	h.sup = newSupervisor(cfg.Plugins, h.log, h.metrics)

	ids := make([]string, 0, len(cfg.Orgs))
	for id := range cfg.Orgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		oc := cfg.Orgs[id]
		o := newOrg(id, oc.OrgSettings)
		for _, s := range oc.Sinks {
			in := Integration{ID: s.id(), Label: s.Label, Plugin: s.Plugin, Config: cloneConfig(s.Config)}
			o.config[in.ID] = in
		}
		h.orgs[id] = o
	}
	// Organizations saved at run time override (or remove) configured ones.
	for id, so := range h.savedOrgs {
		if so.Removed {
			delete(h.orgs, id)
			continue
		}
		if o, ok := h.orgs[id]; ok {
			o.settings = so.Settings
			continue
		}
		h.orgs[id] = newOrg(id, so.Settings)
	}
	ids = ids[:0]
	for id := range h.orgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Saved integrations override configured ones with the same id.
	active := map[queue.Key]bool{}
	for _, id := range ids {
		o := h.orgs[id]
		effective := map[string]Integration{}
		for k, v := range o.config {
			effective[k] = v
			o.sources[k] = SourceConfig
		}
		for _, s := range h.saved[id] {
			if s.Removed {
				delete(effective, s.ID)
				delete(o.sources, s.ID)
				continue
			}
			effective[s.ID] = s.Integration
			o.sources[s.ID] = SourceSaved
			o.savedAt[s.ID] = s.Saved
		}
		for _, in := range sortedIntegrations(effective) {
			if err := h.startWorker(o, in); err != nil {
				h.closeAll()
				return nil, err
			}
			active[queue.Key{Org: id, Sink: in.ID}] = true
		}
	}
	for org := range h.saved {
		if _, ok := h.orgs[org]; !ok {
			h.log.Warn("saved integrations for an organization that is not configured are ignored", "org", org)
		}
	}
	// Queues on disk whose integration is gone keep their statements;
	// they are moved to the dead-letter store, never dropped.
	for _, k := range h.queues.Queues() {
		if !active[k] {
			h.retireQueue(k.Org, k.Sink)
		}
	}
	return h, nil
}

// orgLocked returns the organization id; h.mu must be held.
func (h *Host) orgLocked(id string) (*org, error) {
	if h.closed {
		return nil, ErrClosed
	}
	o, ok := h.orgs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrOrgUnknown, id)
	}
	return o, nil
}

func newOrg(id string, s OrgSettings) *org {
	return &org{
		id: id, settings: s, config: map[string]Integration{},
		workers: map[string]*worker{}, sources: map[string]string{}, savedAt: map[string]time.Time{},
	}
}

func sortedIntegrations(m map[string]Integration) []Integration {
	out := make([]Integration, 0, len(m))
	for _, in := range m {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// startWorker opens the instance's queue and starts its delivery. h.mu must
// be held or h not yet shared. A queue that cannot be opened (damaged on
// disk) does not stop the host: the integration reports StateQueueError,
// recording for its organization fails with that error, and every other
// organization carries on. Its files are left as they are for an operator.
func (h *Host) startWorker(o *org, in Integration) error {
	q, err := h.queues.Queue(o.id, in.ID)
	if err != nil {
		err = fmt.Errorf("open queue of %s/%s: %w", o.id, in.ID, err)
		h.log.Error("queue cannot be opened; recording for the organization is refused until it is repaired", "org", o.id, "integration", in.ID, "error", err)
		q = brokenQueue{err: err}
	}
	w := newWorker(h, o.id, in, q)
	o.workers[in.ID] = w
	o.order = append(o.order, in.ID)
	sort.Strings(o.order)
	go w.run()
	return nil
}

// brokenQueue stands in for a queue that could not be opened: every
// operation fails with the reason.
type brokenQueue struct{ err error }

func (b brokenQueue) Append(context.Context, []queue.Item) error { return b.err }
func (b brokenQueue) Next(ctx context.Context, _ int, _ int64) ([]queue.Entry, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b brokenQueue) Ack(...uint64) error { return b.err }
func (b brokenQueue) Release(...uint64)   {}
func (b brokenQueue) Stats() queue.Stats  { return queue.Stats{} }
func (b brokenQueue) Close() error        { return nil }

// removeWorker stops an instance's delivery; its queue stays open.
func (o *org) removeWorker(id string) *worker {
	w := o.workers[id]
	delete(o.workers, id)
	for i, x := range o.order {
		if x == id {
			o.order = append(o.order[:i:i], o.order[i+1:]...)
			break
		}
	}
	return w
}

// retireQueue moves every pending statement of a queue whose integration
// no longer exists to the dead-letter store, class "removed", and deletes
// the queue.
func (h *Host) retireQueue(orgID, sink string) {
	q, err := h.queues.Queue(orgID, sink)
	if err != nil {
		h.log.Error("cannot open queue of a removed integration", "org", orgID, "sink", sink, "error", err)
		return
	}
	moved := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		entries, err := q.Next(ctx, 1000, 16<<20)
		cancel()
		if err != nil || len(entries) == 0 {
			break
		}
		list := make([]DeadLetter, len(entries))
		for i, e := range entries {
			list[i] = DeadLetter{Org: orgID, Sink: sink, StatementID: e.ID, Class: DeadLetterRemoved,
				Reason: "the integration was removed before the statement was delivered",
				Time:   time.Now().UTC(), Recorded: e.Appended.UTC(), Statement: append([]byte(nil), e.Data...)}
		}
		if err := h.dead.add(orgID, list); err != nil {
			h.log.Error("cannot move statements of a removed integration to dead letters; the queue is kept", "org", orgID, "sink", sink, "error", err)
			_ = q.Close()
			return
		}
		if err := q.Ack(seqsOf(entries)...); err != nil {
			h.log.Error("ack of moved statements failed", "org", orgID, "sink", sink, "error", err)
		}
		moved += len(entries)
	}
	if err := q.Close(); err != nil {
		h.log.Warn("close queue", "org", orgID, "sink", sink, "error", err)
	}
	if err := h.queues.Remove(orgID, sink); err != nil {
		h.log.Warn("remove queue", "org", orgID, "sink", sink, "error", err)
	}
	if moved > 0 {
		h.log.Warn("statements of a removed integration moved to dead letters", "org", orgID, "sink", sink, "count", moved)
	}
}

// DeadLetterRemoved is the dead-letter class of statements whose
// integration was removed before they were delivered.
const DeadLetterRemoved = "removed"

// RecordError reports statements Record refused; nothing of the call was
// queued.
type RecordError struct {
	// Org is the organization.
	Org string
	// Index is the position of the first invalid statement in the call.
	Index int
	// Problems are that statement's problems, each with its JSON path.
	Problems xapi.Problems
}

// Error returns the message of e.
func (e *RecordError) Error() string {
	return fmt.Sprintf("org %s: statement %d is invalid: %v", e.Org, e.Index, e.Problems)
}

// Record validates statements and queues them durably for every
// integration of the organization. It returns once they are durable per
// queue.sync. Statements without an id get a random one (set on the
// statement); callers that may record the same statement again should set
// deterministic ids (xapi.UUIDv5) so that the LRS recognizes the resend.
//
// Every statement must be valid for both xAPI 1.0.3 and 2.0.0, except for
// properties 1.0.3 does not define, which are left out for 1.0.3 sinks. An
// invalid statement fails the whole call with a *RecordError and nothing is
// queued. A full queue fails with an error wrapping ErrFull; with several
// integrations, the statements may then have been queued for some of them
// (recording them again is harmless: their ids are the same).
func (h *Host) Record(ctx context.Context, orgID string, statements ...*xapi.Statement) error {
	items := make([]queue.Item, len(statements))
	for i, st := range statements {
		if st == nil {
			return &RecordError{Org: orgID, Index: i, Problems: xapi.Problems{{Rule: xapi.RuleRequired, Message: "statement is nil"}}}
		}
		if st.ID == "" {
			st.ID = xapi.NewUUID()
		}
		if probs := deliverableProblems(st); len(probs) > 0 {
			return &RecordError{Org: orgID, Index: i, Problems: probs}
		}
		data, err := xapi.Marshal(st, xapi.V200)
		if err != nil {
			return &RecordError{Org: orgID, Index: i, Problems: xapi.Problems{{Rule: xapi.RuleJSONType, Message: err.Error()}}}
		}
		items[i] = queue.Item{ID: st.ID, Data: data}
	}
	return h.enqueue(ctx, orgID, items)
}

// deliverableProblems validates st for 2.0.0, which covers 1.0.3: the
// rules of 1.0.3 differ only for properties that encoding for 1.0.3 leaves
// out (contextAgents, contextGroups, a 2.0.0 version property).
func deliverableProblems(st *xapi.Statement) xapi.Problems {
	return xapi.Validate(st, xapi.V200)
}

// enqueue appends items to every queue of the organization.
func (h *Host) enqueue(ctx context.Context, orgID string, items []queue.Item) error {
	if len(items) == 0 {
		return nil
	}
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return ErrClosed
	}
	o, ok := h.orgs[orgID]
	if !ok {
		h.mu.RUnlock()
		return fmt.Errorf("%w: %q", ErrOrgUnknown, orgID)
	}
	workers := make([]*worker, 0, len(o.order))
	for _, id := range o.order {
		workers = append(workers, o.workers[id])
	}
	h.recording.Add(1)
	h.mu.RUnlock()
	defer h.recording.Done()
	if len(workers) == 0 {
		return fmt.Errorf("%w: %q", ErrNoSinks, orgID)
	}
	if len(workers) == 1 {
		return h.appendTo(ctx, workers[0], items)
	}
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.appendTo(ctx, w, items)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h *Host) appendTo(ctx context.Context, w *worker, items []queue.Item) error {
	if err := w.q.Append(ctx, items); err != nil {
		return fmt.Errorf("org %s, integration %s: %w", w.org, w.inst.ID, err)
	}
	h.metrics.Count(MetricRecorded, int64(len(items)), w.org, w.inst.ID)
	return nil
}

// Orgs returns the ids of the configured organizations, sorted.
func (h *Host) Orgs() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.orgs))
	for id := range h.orgs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Integrations lists an organization's integrations, secrets masked.
func (h *Host) Integrations(orgID string) ([]IntegrationInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	o, err := h.orgLocked(orgID)
	if err != nil {
		return nil, err
	}
	out := make([]IntegrationInfo, 0, len(o.order))
	for _, id := range o.order {
		in := o.workers[id].inst
		in.Config = maskConfig(in.Config)
		out = append(out, IntegrationInfo{Integration: in, Org: orgID, Source: o.sources[id], Saved: o.savedAt[id]})
	}
	return out, nil
}

// TestIntegration configures a candidate integration in its plugin, runs
// the plugin's connection test and closes it again. Nothing is saved and
// nothing is delivered. A configuration the plugin rejects is returned as
// a *sdk.ConfigError with field-level messages. When the candidate has the
// id of an existing integration, empty or Masked secrets are taken from it,
// so a form that never saw the secret can be tested; not when the
// candidate changes the destination (endpoint, URL, host): then the secret
// must be entered again, or a *sdk.ConfigError says so.
func (h *Host) TestIntegration(ctx context.Context, orgID string, in Integration) (sdk.Report, error) {
	in, err := h.candidate(orgID, in)
	if err != nil {
		return sdk.Report{}, err
	}
	return h.testCandidate(ctx, orgID, in)
}

func (h *Host) candidate(orgID string, in Integration) (Integration, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	o, err := h.orgLocked(orgID)
	if err != nil {
		return in, err
	}
	if in.ID == "" {
		in.ID = slug(in.Label, in.Plugin)
	}
	if !pluginPattern.MatchString(in.Plugin) {
		return in, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "plugin", Message: fmt.Sprintf("%q is not a plugin name", in.Plugin)}}}
	}
	if !sinkIDPattern.MatchString(in.ID) {
		return in, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "id", Message: fmt.Sprintf("%q is not a valid integration id", in.ID)}}}
	}
	in.Config = cloneConfig(in.Config)
	if w, ok := o.workers[in.ID]; ok && w.inst.Plugin == in.Plugin {
		merged, ok := mergeSecrets(in.Config, w.inst.Config)
		if !ok {
			var fields []sdk.FieldError
			for k := range w.inst.Config {
				if IsSecretKey(k) {
					fields = append(fields, sdk.FieldError{Field: k, Message: "enter it again: the destination changed, and a saved secret is only sent where it was entered for"})
				}
			}
			sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
			return in, &sdk.ConfigError{Fields: fields}
		}
		in.Config = merged
	}
	return in, nil
}

func (h *Host) testCandidate(ctx context.Context, orgID string, in Integration) (sdk.Report, error) {
	l, err := h.sup.acquire(ctx, in.Plugin, orgID)
	if err != nil {
		return sdk.Report{}, err
	}
	defer l.release()
	sink, err := l.proc.Provider().Configure(ctx, sdk.ConfigureRequest{
		Instance: orgID + "/" + in.ID + "#test-" + xapi.NewUUID(),
		Org:      orgID,
		Label:    in.Label,
		Config:   cloneConfig(in.Config),
		Egress:   h.egress,
	})
	if err != nil {
		return sdk.Report{}, redactErr(err, secretValues(in.Config))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = sink.Close(cctx) // a test instance; nothing to keep
	}()
	tester, ok := sink.(sdk.ConnectionTester)
	if !ok {
		return sdk.Report{Steps: []sdk.Step{{
			Name: "config", Title: "Check the configuration", Status: sdk.StepPassed,
			Message: "the configuration is valid; this plugin has no connection test",
		}}}, nil
	}
	rep, err := tester.TestConnection(ctx)
	if err != nil {
		return sdk.Report{}, redactErr(err, secretValues(in.Config))
	}
	secrets := secretValues(in.Config)
	for i := range rep.Steps {
		rep.Steps[i].Message = redact(rep.Steps[i].Message, secrets)
	}
	return rep, nil
}

// redactErr hides secrets in err's message, keeping config errors typed.
func redactErr(err error, secrets []string) error {
	var ce *sdk.ConfigError
	if errors.As(err, &ce) {
		out := &sdk.ConfigError{}
		for _, f := range ce.Fields {
			out.Fields = append(out.Fields, sdk.FieldError{Field: f.Field, Message: redact(f.Message, secrets)})
		}
		return out
	}
	msg := redact(err.Error(), secrets)
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap keeps the class of the error (errors.Is and sdk.ClassOf keep
// working); its message is not shown.
func (e *redactedError) Unwrap() error { return e.err }

// SaveOptions control SaveIntegration.
type SaveOptions struct {
	// Force saves even when the connection test fails.
	Force bool
	// CreateOnly refuses, with ErrIntegrationExists, to replace an
	// integration with the same id (see admin.go).
	CreateOnly bool
}

// SaveIntegration tests a candidate integration and, if the test passes
// (or opts.Force), persists it and makes it active atomically: an
// integration with the same id is replaced, keeping its queue, and its
// pause (for example after rejected credentials) is lifted. The report of
// the test is returned in both cases; a failed test without Force returns
// ErrTestFailed and changes nothing.
func (h *Host) SaveIntegration(ctx context.Context, orgID string, in Integration, opts SaveOptions) (sdk.Report, error) {
	in, err := h.candidate(orgID, in)
	if err != nil {
		return sdk.Report{}, err
	}
	if err := h.refuseExisting(orgID, in.ID, opts); err != nil {
		return sdk.Report{}, err
	}
	rep, err := h.testCandidate(ctx, orgID, in)
	if err != nil && !opts.Force {
		return rep, err
	}
	if err == nil && !rep.OK() && !opts.Force {
		return rep, ErrTestFailed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	o, err := h.orgLocked(orgID)
	if err != nil {
		return rep, err
	}
	if err := o.refuseExisting(in.ID, opts); err != nil {
		return rep, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := h.persistLocked(orgID, savedIntegration{Integration: in, Saved: now}); err != nil {
		return rep, err
	}
	if old := o.removeWorker(in.ID); old != nil {
		old.stop()
	}
	o.sources[in.ID] = SourceSaved
	o.savedAt[in.ID] = now
	if err := h.startWorker(o, in); err != nil {
		return rep, err
	}
	h.log.Info("integration saved", "org", orgID, "integration", in.ID, "plugin", in.Plugin)
	return rep, nil
}

// persistLocked replaces the saved entry for s.ID and writes the file.
func (h *Host) persistLocked(orgID string, s savedIntegration) error {
	next := make(map[string][]savedIntegration, len(h.saved)+1)
	for k, v := range h.saved {
		next[k] = append([]savedIntegration(nil), v...)
	}
	list := next[orgID][:0:0]
	for _, x := range next[orgID] {
		if x.ID != s.ID {
			list = append(list, x)
		}
	}
	next[orgID] = append(list, s)
	sort.Slice(next[orgID], func(i, j int) bool { return next[orgID][i].ID < next[orgID][j].ID })
	if err := h.store.save(next, h.savedOrgs); err != nil {
		return fmt.Errorf("persist integration %s/%s: %w", orgID, s.ID, err)
	}
	h.saved = next
	return nil
}

// RemoveIntegration removes an integration: delivery stops and statements
// still queued for it move to the dead-letter store (class "removed"), from
// which they can be listed or purged. Removing an integration of the
// configuration file persists the removal.
func (h *Host) RemoveIntegration(ctx context.Context, orgID, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, err := h.orgLocked(orgID)
	if err != nil {
		return err
	}
	w, ok := o.workers[id]
	if !ok {
		return fmt.Errorf("%w: %s/%s", ErrIntegrationUnknown, orgID, id)
	}
	if err := h.persistLocked(orgID, savedIntegration{Integration: Integration{ID: id, Plugin: w.inst.Plugin, Config: map[string]any{}}, Saved: time.Now().UTC(), Removed: true}); err != nil {
		return err
	}
	o.removeWorker(id)
	delete(o.sources, id)
	delete(o.savedAt, id)
	w.stop()
	if err := w.q.Close(); err != nil {
		h.log.Warn("close queue", "org", orgID, "sink", id, "error", err)
	}
	h.retireQueue(orgID, id)
	h.log.Info("integration removed", "org", orgID, "integration", id)
	return nil
}

// Resume lifts the pause of an integration (after rejected credentials or
// configuration) without changing it, for example after the LRS side was
// fixed.
func (h *Host) Resume(ctx context.Context, orgID, id string) error {
	w, err := h.worker(orgID, id)
	if err != nil {
		return err
	}
	w.unpause()
	return nil
}

func (h *Host) worker(orgID, id string) (*worker, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	o, err := h.orgLocked(orgID)
	if err != nil {
		return nil, err
	}
	w, ok := o.workers[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s", ErrIntegrationUnknown, orgID, id)
	}
	return w, nil
}

// DeadLetters lists an organization's dead letters matching f, oldest
// first.
func (h *Host) DeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) ([]DeadLetter, error) {
	if err := h.knownOrg(orgID); err != nil {
		return nil, err
	}
	return h.dead.list(orgID, f)
}

// ReplayDeadLetters queues the dead letters matching f again for their
// integration (after the cause was fixed) and removes them from the
// dead-letter store. It returns how many were queued. Dead letters of
// integrations that no longer exist stay where they are.
func (h *Host) ReplayDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) (int, error) {
	if err := h.knownOrg(orgID); err != nil {
		return 0, err
	}
	removed, err := h.dead.remove(orgID, f)
	if err != nil {
		return 0, err
	}
	bySink := map[string][]DeadLetter{}
	for _, d := range removed {
		bySink[d.Sink] = append(bySink[d.Sink], d)
	}
	var errs []error
	var back []DeadLetter
	n := 0
	for sink, list := range bySink {
		w, err := h.worker(orgID, sink)
		if err != nil {
			back = append(back, list...)
			continue
		}
		items := make([]queue.Item, len(list))
		for i, d := range list {
			items[i] = queue.Item{ID: d.StatementID, Data: d.Statement}
		}
		if err := w.q.Append(ctx, items); err != nil {
			back = append(back, list...)
			errs = append(errs, fmt.Errorf("replay to %s: %w", sink, err))
			continue
		}
		n += len(list)
	}
	if len(back) > 0 {
		if err := h.dead.add(orgID, back); err != nil { // put back what could not be queued
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// PurgeDeadLetters deletes the dead letters matching f for good and
// returns how many were deleted.
func (h *Host) PurgeDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) (int, error) {
	if err := h.knownOrg(orgID); err != nil {
		return 0, err
	}
	removed, err := h.dead.remove(orgID, f)
	return len(removed), err
}

func (h *Host) knownOrg(orgID string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return ErrClosed
	}
	if _, ok := h.orgs[orgID]; !ok {
		return fmt.Errorf("%w: %q", ErrOrgUnknown, orgID)
	}
	return nil
}

// Shutdown stops intake, waits until every queue is drained (integrations
// that are paused or whose breaker is open are not waited for), then stops
// delivery, closes sink instances, stops the plugin processes and closes
// the queues. Like http.Server.Shutdown, it returns ctx's error when ctx
// ends first, wrapped with the number of statements still queued (they
// stay on disk and are delivered after the next start). Later calls, and
// every other method afterwards, return ErrClosed.
func (h *Host) Shutdown(ctx context.Context) error {
	first := false
	h.shutdown.Do(func() {
		first = true
		h.shutErr = h.doShutdown(ctx)
	})
	if !first {
		return ErrClosed
	}
	return h.shutErr
}

func (h *Host) doShutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.recording.Wait()
	var drainErr error
	if err := h.waitDrained(ctx, true); err != nil {
		drainErr = fmt.Errorf("shutdown: %w: %d statements left in queues", err, h.pending())
	}
	h.closeAll()
	return drainErr
}

// closeAll stops workers, plugins and queues.
func (h *Host) closeAll() {
	h.mu.Lock()
	var ws []*worker
	for _, o := range h.orgs {
		for _, w := range o.workers {
			ws = append(ws, w)
		}
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stop()
		}()
	}
	wg.Wait()
	h.sup.close()
	for _, w := range ws {
		_ = w.q.Close()
	}
	if err := h.queues.Close(); err != nil {
		h.log.Warn("close queues", "error", err)
	}
}

func (h *Host) allWorkers() []*worker {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var ws []*worker
	for _, o := range h.orgs {
		for _, w := range o.workers {
			ws = append(ws, w)
		}
	}
	return ws
}

func (h *Host) pending() int {
	n := 0
	for _, w := range h.allWorkers() {
		n += w.q.Stats().Pending
	}
	return n
}

// WaitIdle blocks until every statement recorded so far has been delivered
// or dead-lettered, or ctx ends. Integrations that are paused (rejected
// credentials or configuration) are not waited for. It does not stop
// intake: statements recorded meanwhile are waited for too.
func (h *Host) WaitIdle(ctx context.Context) error {
	return h.waitDrained(ctx, false)
}

func (h *Host) waitDrained(ctx context.Context, skipStuck bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		busy := false
		for _, w := range h.allWorkers() {
			if w.q.Stats().Pending == 0 || w.pausedState() != "" {
				continue
			}
			if skipStuck && w.status().State == StateBreakerOpen {
				continue
			}
			busy = true
			break
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
