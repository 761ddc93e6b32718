package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

// ErrPluginNotFound is returned when a sink names a plugin that is not in
// the plugins directory.
var ErrPluginNotFound = errors.New("plugin not found")

// launchFunc starts a plugin process; tests replace it.
type launchFunc func(ctx context.Context, cfg sdk.LaunchConfig) (*sdk.Process, error)

// supervisor starts plugin processes lazily, one per plugin (shared) or
// per plugin and organization (per_org), restarts dead ones with backoff and
// stops idle ones.
type supervisor struct {
	cfg     PluginsConfig
	log     *slog.Logger
	metrics Metrics
	launch  launchFunc

	mu     sync.Mutex
	procs  map[procKey]*procEntry
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

type procKey struct {
	plugin string
	org    string // empty for shared processes
}

func (k procKey) String() string {
	if k.org == "" {
		return k.plugin
	}
	return k.plugin + "[" + k.org + "]"
}

type procEntry struct {
	proc      *sdk.Process
	starting  chan struct{} // closed when a start attempt ends
	err       error         // of the last start attempt
	failures  int           // consecutive failed starts or crashes
	notBefore time.Time     // restart backoff
	users     int
	idleSince time.Time
	starts    int
}

func newSupervisor(cfg PluginsConfig, log *slog.Logger, m Metrics) *supervisor {
	s := &supervisor{
		cfg:     cfg,
		log:     log,
		metrics: m,
		launch:  sdk.Launch,
		procs:   map[procKey]*procEntry{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.janitor()
	return s
}

func (s *supervisor) key(plugin, org string) procKey {
	if s.cfg.Process[plugin] == ProcessPerOrg {
		return procKey{plugin: plugin, org: org}
	}
	return procKey{plugin: plugin}
}

// lease is one user's hold on a plugin process.
type lease struct {
	s    *supervisor
	key  procKey
	proc *sdk.Process
	once sync.Once
}

// release gives the lease back; a process without users is stopped after
// the idle timeout.
func (l *lease) release() {
	l.once.Do(func() {
		l.s.mu.Lock()
		defer l.s.mu.Unlock()
		if e, ok := l.s.procs[l.key]; ok && e.proc == l.proc {
			e.users--
			if e.users == 0 {
				e.idleSince = time.Now()
			}
		}
	})
}

// acquire returns a running process for plugin and org, starting it if
// needed. A process that died is restarted, after a backoff when it keeps
// dying.
func (s *supervisor) acquire(ctx context.Context, plugin, org string) (*lease, error) {
	key := s.key(plugin, org)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		e := s.procs[key]
		if e == nil {
			e = &procEntry{}
			s.procs[key] = e
		}
		if e.proc != nil {
			select {
			case <-e.proc.Exited():
				s.log.Warn("plugin process exited", "plugin", key.String(), "pid", e.proc.Pid())
				e.proc = nil
				e.failures++
				e.notBefore = time.Now().Add(restartBackoff(e.failures))
			default:
				e.users++
				l := &lease{s: s, key: key, proc: e.proc}
				s.mu.Unlock()
				return l, nil
			}
		}
		if e.starting != nil {
			ch := e.starting
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if wait := time.Until(e.notBefore); wait > 0 {
			s.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		e.starting = ch
		s.mu.Unlock()

		proc, err := s.start(ctx, key)

		s.mu.Lock()
		e.starting = nil
		close(ch)
		if err != nil {
			e.err = err
			if ctx.Err() == nil {
				e.failures++
				e.notBefore = time.Now().Add(restartBackoff(e.failures))
			}
			s.mu.Unlock()
			return nil, err
		}
		if e.starts > 0 {
			s.metrics.Count(MetricPluginRestarts, 1, key.org, key.plugin)
		}
		e.starts++
		e.proc, e.err = proc, nil
		if s.closed {
			s.mu.Unlock()
			proc.Kill()
			return nil, ErrClosed
		}
		s.mu.Unlock()
		go s.watch(key, proc)
	}
}

// watch resets the failure count of a process that stays up.
func (s *supervisor) watch(key procKey, proc *sdk.Process) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-proc.Exited():
	case <-t.C:
		s.mu.Lock()
		if e := s.procs[key]; e != nil && e.proc == proc {
			e.failures = 0
		}
		s.mu.Unlock()
	case <-s.stop:
	}
}

func restartBackoff(failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := 250 * time.Millisecond << min(failures-2, 8)
	return min(d, time.Minute)
}

func (s *supervisor) start(ctx context.Context, key procKey) (*sdk.Process, error) {
	path := filepath.Join(s.cfg.Dir, key.plugin)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("plugin %q: %w in %s", key.plugin, ErrPluginNotFound, s.cfg.Dir)
	}
	var sum []byte
	if hexSum, ok := s.cfg.SHA256[key.plugin]; ok {
		var err error
		if sum, err = decodeHexSum(hexSum); err != nil {
			return nil, fmt.Errorf("plugin %q: bad sha256 in configuration", key.plugin)
		}
	}
	env := append([]string(nil), s.cfg.Env...)
	for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	began := time.Now()
	proc, err := s.launch(startCtx, sdk.LaunchConfig{
		Path:         path,
		Env:          env,
		SHA256:       sum,
		Logger:       s.log.With("plugin", key.String()),
		StartTimeout: s.cfg.StartTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("start plugin %q: %w", key.plugin, err)
	}
	s.log.Info("plugin started", "plugin", key.String(), "pid", proc.Pid(), "took", time.Since(began).Round(time.Millisecond))
	return proc, nil
}

// janitor stops processes that have had no users for the idle timeout.
func (s *supervisor) janitor() {
	defer close(s.done)
	tick := max(s.cfg.IdleTimeout/4, 50*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var idle []*sdk.Process
		s.mu.Lock()
		for key, e := range s.procs {
			if e.proc != nil && e.users == 0 && e.starting == nil && time.Since(e.idleSince) >= s.cfg.IdleTimeout {
				idle = append(idle, e.proc)
				s.log.Info("stopping idle plugin process", "plugin", key.String(), "pid", e.proc.Pid())
				delete(s.procs, key)
			}
		}
		s.mu.Unlock()
		for _, p := range idle {
			p.Kill()
		}
	}
}

// running reports the running processes by key, for status and tests.
func (s *supervisor) running() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for key, e := range s.procs {
		if e.proc != nil {
			select {
			case <-e.proc.Exited():
			default:
				out[key.String()] = e.proc.Pid()
			}
		}
	}
	return out
}

// close kills every process.
func (s *supervisor) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var all []*sdk.Process
	for _, e := range s.procs {
		if e.proc != nil {
			all = append(all, e.proc)
		}
	}
	s.procs = map[procKey]*procEntry{}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Kill()
		}()
	}
	wg.Wait()
}
