// Package supervise runs sink plugin processes for the host: it starts them
// lazily, one per plugin (shared) or per plugin and organization, restarts
// dead ones with backoff and stops idle ones.
package supervise

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

// ErrNotFound is returned when a plugin is not in the plugins directory.
var ErrNotFound = errors.New("plugin not found")

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("plugin supervisor closed")

// Options configure a Supervisor.
type Options struct {
	// Dir holds the plugin executables by name.
	Dir string
	// SHA256 maps plugin names to the checksum their executable must have.
	SHA256 map[string][]byte
	// PerOrg names the plugins that get one process per organization.
	PerOrg map[string]bool
	// IdleTimeout stops a process that has had no user for this long.
	IdleTimeout time.Duration
	// StartTimeout bounds a start and handshake.
	StartTimeout time.Duration
	// Env lists extra environment variables for plugin processes.
	Env []string
	// Nice lowers the CPU priority of plugin processes (sdk.LaunchConfig.Nice).
	Nice int
	// Logger receives process events and the plugins' log lines.
	Logger *slog.Logger
	// OnStart, when set, is called for every process start; restart says
	// whether a process of the same key ran before (org is empty for
	// shared processes).
	OnStart func(org, plugin string, restart bool)
	// OnExit, when set, is called once for every process that exited;
	// stopped says whether the supervisor stopped it (idle, Close) rather
	// than it exiting on its own or being killed by someone else.
	OnExit func(org, plugin string, stopped bool)
}

// Supervisor owns the plugin processes. It is safe for concurrent use.
type Supervisor struct {
	opts Options
	log  *slog.Logger
	// launcher starts the processes, reusing the host's TLS identity and
	// the verified copies of checksummed binaries.
	launcher *sdk.Launcher

	mu     sync.Mutex
	procs  map[procKey]*procEntry
	closed bool
	stop   chan struct{}
	done   chan struct{}
	// stopping holds the processes the supervisor is stopping, until
	// their watcher has seen them exit.
	stopping map[*sdk.Process]bool
	// watchers counts the goroutines watching a process.
	watchers sync.WaitGroup
	// checked remembers, per plugin, the file seen by the last Check that
	// verified its checksum, so that a file that did not change is not
	// hashed again.
	checked map[string]checkedFile
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
	failures  int           // consecutive failed starts or crashes
	notBefore time.Time     // restart backoff
	users     int
	idleSince time.Time
	starts    int
}

// New returns a supervisor; Close stops it and its processes.
func New(opts Options) *Supervisor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		opts:     opts,
		log:      opts.Logger,
		launcher: sdk.NewLauncher(),
		procs:    map[procKey]*procEntry{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		stopping: map[*sdk.Process]bool{},
		checked:  map[string]checkedFile{},
	}
	go s.janitor()
	return s
}

func (s *Supervisor) key(plugin, org string) procKey {
	if s.opts.PerOrg[plugin] {
		return procKey{plugin: plugin, org: org}
	}
	return procKey{plugin: plugin}
}

// Lease is one user's hold on a plugin process.
type Lease struct {
	s    *Supervisor
	key  procKey
	proc *sdk.Process
	once sync.Once
}

// Provider returns the process's provider of sink instances.
func (l *Lease) Provider() sdk.Provider { return l.proc.Provider() }

// Exited is closed when the process has exited.
func (l *Lease) Exited() <-chan struct{} { return l.proc.Exited() }

// Release gives the lease back; a process without users is stopped after
// the idle timeout. It is idempotent.
func (l *Lease) Release() {
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

// Acquire returns a lease on a running process for plugin and org,
// starting it if needed. A process that died is restarted, after a backoff
// when it keeps dying.
func (s *Supervisor) Acquire(ctx context.Context, plugin, org string) (*Lease, error) {
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
				l := &Lease{s: s, key: key, proc: e.proc}
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
			if ctx.Err() == nil {
				e.failures++
				e.notBefore = time.Now().Add(restartBackoff(e.failures))
			}
			s.mu.Unlock()
			return nil, err
		}
		if s.opts.OnStart != nil {
			s.opts.OnStart(key.org, key.plugin, e.starts > 0)
		}
		e.starts++
		e.proc = proc
		s.watchers.Add(1)
		go s.watch(key, proc)
		if s.closed {
			s.stopping[proc] = true
			s.mu.Unlock()
			proc.Kill()
			return nil, ErrClosed
		}
		s.mu.Unlock()
	}
}

// watch resets the failure count of a process that stays up, and
// reports the process's exit.
func (s *Supervisor) watch(key procKey, proc *sdk.Process) {
	defer s.watchers.Done()
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
		<-proc.Exited() // Close stops every process, so this ends
	}
	s.mu.Lock()
	stopped := s.stopping[proc]
	delete(s.stopping, proc)
	s.mu.Unlock()
	if s.opts.OnExit != nil {
		s.opts.OnExit(key.org, key.plugin, stopped)
	}
}

func restartBackoff(failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := 250 * time.Millisecond << min(failures-2, 8)
	return min(d, time.Minute)
}

func (s *Supervisor) start(ctx context.Context, key procKey) (*sdk.Process, error) {
	path := filepath.Join(s.opts.Dir, key.plugin)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("plugin %q: %w in %s", key.plugin, ErrNotFound, s.opts.Dir)
	}
	env := append([]string(nil), s.opts.Env...)
	for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	began := time.Now()
	proc, err := s.launcher.Launch(startCtx, sdk.LaunchConfig{
		Path:         path,
		Env:          env,
		SHA256:       s.opts.SHA256[key.plugin],
		Logger:       s.log.With("plugin", key.String()),
		StartTimeout: s.opts.StartTimeout,
		Nice:         s.opts.Nice,
	})
	if err != nil {
		return nil, fmt.Errorf("start plugin %q: %w", key.plugin, err)
	}
	s.log.Info("plugin started", "plugin", key.String(), "pid", proc.Pid(), "took", time.Since(began).Round(time.Millisecond))
	return proc, nil
}

// janitor stops processes that have had no users for the idle timeout.
func (s *Supervisor) janitor() {
	defer close(s.done)
	tick := max(s.opts.IdleTimeout/4, 50*time.Millisecond)
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
			if e.proc != nil && e.users == 0 && e.starting == nil && time.Since(e.idleSince) >= s.opts.IdleTimeout {
				idle = append(idle, e.proc)
				s.stopping[e.proc] = true
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

// Running reports the running processes, by plugin name ("name[org]" for
// per-organization processes), with their pids.
func (s *Supervisor) Running() map[string]int {
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

// Close kills every process and stops the supervisor. It is idempotent.
func (s *Supervisor) Close() {
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
			s.stopping[e.proc] = true
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
	s.watchers.Wait()
	_ = s.launcher.Close()
}

type checkedFile struct {
	size    int64
	modTime time.Time
	err     error
}

// Check reports whether plugin can be started: its file exists, and
// matches its configured checksum. It wraps ErrNotFound (and
// fs.ErrNotExist) for a missing file and sdk.ErrChecksumMismatch for a
// changed one. The checksum is computed again only when the file's size or
// modification time changed since the last Check.
func (s *Supervisor) Check(plugin string) error {
	path := filepath.Join(s.opts.Dir, plugin)
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("plugin %q: %w: %w", plugin, ErrNotFound, err)
	}
	want := s.opts.SHA256[plugin]
	if len(want) == 0 {
		return nil
	}
	s.mu.Lock()
	c, ok := s.checked[plugin]
	s.mu.Unlock()
	if ok && c.size == st.Size() && c.modTime.Equal(st.ModTime()) {
		return c.err
	}
	c = checkedFile{size: st.Size(), modTime: st.ModTime(), err: verify(path, want)}
	if c.err != nil && !errors.Is(c.err, sdk.ErrChecksumMismatch) {
		return c.err // not worth remembering
	}
	s.mu.Lock()
	s.checked[plugin] = c
	s.mu.Unlock()
	return c.err
}

// verify compares the SHA-256 of the file at path with want.
func verify(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return fmt.Errorf("plugin %s: %w", filepath.Base(path), sdk.ErrChecksumMismatch)
	}
	return nil
}
