package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

	"github.com/learningflow/lrsbridge/internal/procnice"
)

// ErrChecksumMismatch reports that a plugin binary does not have the
// SHA-256 checksum the host was configured with; it is not started. Launch
// returns it inside a [*BinaryError].
var ErrChecksumMismatch = errors.New("checksum mismatch")

// LaunchConfig says which plugin to start and how.
type LaunchConfig struct {
	// Path is the plugin executable. Ignored when Reattach is set.
	Path string
	// Args are the command-line arguments after the program name.
	Args []string
	// Env is the plugin's environment, as "KEY=value" strings. The host's own
	// environment is not passed on, so that its secrets do not reach third
	// party plugins; the handshake variables are added.
	Env []string
	// SHA256, if not empty, is the expected SHA-256 checksum of the file at
	// Path. A binary that does not match is not started: Launch fails with
	// a [*BinaryError] wrapping [ErrChecksumMismatch]. On Linux the bytes
	// executed are exactly the bytes checked, even if the file is replaced
	// or rewritten meanwhile: they are copied into a sealed memory file as
	// they are hashed, and the process is started from that copy, which a
	// [Launcher] keeps for its next launches of the file.
	SHA256 []byte
	// Logger receives the plugin's log lines at the levels the plugin logged
	// them, what it wrote to stdout and stderr, and go-plugin's messages.
	// Its level is passed to the plugin. Nil discards.
	Logger *slog.Logger
	// StartTimeout bounds the wait for the plugin's handshake. Zero means
	// one minute.
	StartTimeout time.Duration
	// LogLimit bounds the rate of the plugin's log lines; see [LogLimit]
	// for the defaults.
	LogLimit LogLimit
	// Nice lowers the plugin process's CPU priority by this much (0 to
	// 19; 0 runs it at the host's priority): under load the host's own
	// threads, Record calls waiting on the disk among them, then run
	// before the plugin's. On Linux every thread of the process runs at
	// the lower priority from its start; on other Unix systems the
	// process is lowered once started; elsewhere Nice is ignored.
	Nice int
	// Reattach, if set, attaches to a plugin already serving (in test or
	// debug mode, see [WithTestMode] and [WithDebug]) instead of starting
	// one.
	Reattach *ReattachConfig
}

// Process is a plugin process the host started (or attached to) with
// [Launch]. Its methods are safe for concurrent use.
type Process struct {
	client   *plugin.Client
	provider *remoteProvider
	limit    *lineLimiter
	pid      int
	test     bool

	exited   chan struct{}
	killed   chan struct{}
	killOnce sync.Once
}

// Launcher starts plugin processes as [Launch] does, and keeps for later
// launches what need not be made again:
//
//   - the host's TLS key and certificate, made at the first launch and
//     presented to every plugin it starts (each plugin still gets a key
//     pair of its own per launch, and each side pins the other's
//     certificate);
//   - on Linux, the sealed in-memory copy of each binary verified against
//     its SHA-256 checksum ([LaunchConfig].SHA256). A later launch of the
//     same path with the same checksum reuses the copy, without reading
//     and hashing the file again, as long as the file on disk keeps its
//     identity (device, inode, size, modification and change times); a
//     file replaced or written to is checked again. The bytes executed are
//     always bytes that were verified: the copy is sealed and cannot change.
//
// A Launcher is safe for concurrent use. Close releases the copies; the
// processes started keep running.
type Launcher struct {
	execs execCache
	// newKey makes the certificates' keys; nil means P-256. Only the
	// benchmark that compares curves sets it.
	newKey keyMaker

	mu       sync.Mutex
	identity *hostIdentity
}

// NewLauncher returns a Launcher that has not launched anything yet.
func NewLauncher() *Launcher { return &Launcher{} }

// Close releases the verified copies of plugin binaries the Launcher
// keeps. Processes already started are not affected. A Launcher may still
// launch after Close, but then keeps nothing. Close always returns nil.
func (l *Launcher) Close() error {
	l.execs.close()
	return nil
}

// hostIdentity returns the host's TLS identity, made on first use.
func (l *Launcher) hostIdentity() (*hostIdentity, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.identity == nil {
		id, err := newHostIdentity(l.newKey)
		if err != nil {
			return nil, err
		}
		l.identity = id
	}
	return l.identity, nil
}

// Launch starts the plugin described by cfg with a [Launcher] of its own,
// so nothing is reused from one call to the next; see [Launcher.Launch].
func Launch(ctx context.Context, cfg LaunchConfig) (*Process, error) {
	l := NewLauncher()
	defer l.Close()
	return l.Launch(ctx, cfg)
}

// Launch starts the plugin described by cfg, performs the handshake
// (protocol version negotiation, mutual TLS) and returns the running
// process. If ctx is done before the handshake completes, Launch returns
// ctx.Err() and leaves no process behind: none is started, or the one
// started is killed and waited for.
//
// A binary that is missing or does not have the configured checksum is not
// started: the error is a [*BinaryError] (see [ErrPluginNotFound] and
// [ErrChecksumMismatch]), which retrying does not heal.
//
// The plugin watches its host: it exits when the host process ends,
// however it ends (see [Serve]).
func (l *Launcher) Launch(ctx context.Context, cfg LaunchConfig) (*Process, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	limit := newLineLimiter(logger, cfg.LogLimit, nil)
	hl := newHCLogger(logger, "plugin")
	cc := &plugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hl,
		StartTimeout:     cfg.StartTimeout,
		SyncStdout:       &lineLogger{l: logger, level: slog.LevelInfo, stream: "stdout", limit: limit},
		SyncStderr:       &lineLogger{l: logger, level: slog.LevelInfo, stream: "stderr", limit: limit},
		GRPCDialOptions:  dialOptions(),
	}
	var run *procRunner
	if cfg.Reattach != nil {
		rc, err := reattachToPlugin(*cfg.Reattach)
		if err != nil {
			return nil, err
		}
		cc.Reattach = rc
		// go-plugin picks the plugin set from Plugins when it attaches.
		cc.Plugins = cc.VersionedPlugins[rc.ProtocolVersion]
		if cc.Plugins == nil {
			return nil, fmt.Errorf("sdk: reattach: protocol version %d not supported", rc.ProtocolVersion)
		}
	} else {
		if cfg.Path == "" {
			return nil, errors.New("sdk: launch: no plugin path")
		}
		if err := procnice.Check(cfg.Nice); err != nil {
			return nil, fmt.Errorf("sdk: launch plugin %s: %w", cfg.Path, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sdk: launch plugin: %w", err)
		}
		id, err := l.hostIdentity()
		if err != nil {
			return nil, fmt.Errorf("sdk: launch plugin: make TLS certificates: %w", err)
		}
		// The plugin's key pair is made while the binary is checked
		// and the process starts; the runner waits for it before it
		// writes the plugin's TLS line.
		mtls := startLaunchTLS(id)
		exe, err := l.execs.prepare(cfg.Path, cfg.SHA256)
		if err != nil {
			return nil, err
		}
		defer exe.close()
		run = &procRunner{
			name: cfg.Path,
			args: cfg.Args,
			env:  append(append([]string(nil), cfg.Env...), logLevelEnv+"="+levelString(logger), "PLUGIN_CLIENT_CERT="+string(mtls.cert)),
			exe:  exe,
			tls:  mtls,
			nice: cfg.Nice,
		}
		cc.RunnerFunc = func(_ hclog.Logger, cmd *exec.Cmd, socketDir string) (runner.Runner, error) {
			return run.bind(cmd, socketDir), nil
		}
		cc.SkipHostEnv = true
		cc.TLSConfig = mtls.host
		hl.limitName = filepath.Base(cfg.Path)
		hl.limit = limit
	}
	client := plugin.NewClient(cc)

	type result struct {
		p   *remoteProvider
		err error
	}
	done := make(chan result, 1)
	go func() {
		rpc, err := client.Client()
		if err != nil {
			done <- result{err: err}
			return
		}
		raw, err := rpc.Dispense(pluginName)
		if err != nil {
			done <- result{err: err}
			return
		}
		p, ok := raw.(*remoteProvider)
		if !ok {
			done <- result{err: fmt.Errorf("unexpected plugin type %T", raw)}
			return
		}
		done <- result{p: p}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		// Keep the process from starting, or kill it if it did; then
		// wait for go-plugin to give up and clean up after it.
		if run != nil {
			run.abort()
		}
		<-done
		client.Kill()
		return nil, fmt.Errorf("sdk: launch plugin: %w", ctx.Err())
	}
	if res.err != nil {
		client.Kill()
		return nil, fmt.Errorf("sdk: launch plugin: %w", res.err)
	}

	proc := &Process{
		client:   client,
		provider: res.p,
		limit:    limit,
		test:     cfg.Reattach != nil && cfg.Reattach.Test,
		exited:   make(chan struct{}),
		killed:   make(chan struct{}),
	}
	switch {
	case run != nil:
		proc.pid = run.processID()
	case cfg.Reattach != nil:
		proc.pid = cfg.Reattach.Pid
	}
	res.p.exited = proc.exited
	go func() {
		select {
		case <-res.p.pluginDone.Done():
			// go-plugin ends this context once the process's output
			// was read to its end.
			limit.flush()
		case <-proc.killed:
		}
		close(proc.exited)
	}()
	return proc, nil
}

// Provider returns the plugin's Provider. The sinks it configures live in
// the plugin process; each implements [ConnectionTester] and
// [VersionReporter] exactly when the plugin's sink does. Once the process
// has exited their calls fail with [ErrPluginExited].
func (p *Process) Provider() Provider { return p.provider }

// Exited returns a channel that is closed when the plugin process has
// exited, whatever the reason. For a process attached in test mode it is
// closed by Kill.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Pid returns the process id of the plugin.
func (p *Process) Pid() int { return p.pid }

// ProtocolVersion returns the protocol version negotiated with the plugin.
func (p *Process) ProtocolVersion() int { return p.client.NegotiatedVersion() }

// Kill shuts the plugin down: it asks the process to exit, waits briefly,
// then kills it, and returns once it has exited. The plugin closes its
// instances when asked to exit. A process attached in test mode is not
// killed: the host just disconnects; the serving ends with the context given
// to [WithTestMode]. Kill may be called more than once.
func (p *Process) Kill() {
	p.killOnce.Do(func() {
		defer p.limit.flush()
		if p.test {
			// Only disconnect: the test that serves the plugin owns its
			// end (the context given to WithTestMode).
			if rpc, err := p.client.Client(); err == nil {
				if gc, ok := rpc.(*plugin.GRPCClient); ok {
					_ = gc.Conn.Close()
				}
			}
		}
		p.client.Kill()
		close(p.killed)
	})
	<-p.exited
}
