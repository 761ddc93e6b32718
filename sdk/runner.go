package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/hashicorp/go-plugin/runner"

	"github.com/learningflow/lrsbridge/internal/procnice"
)

// Environment variables the host sets for a plugin it starts.
const (
	// hostPidEnv is the host's process id: a plugin whose parent is no
	// longer that process was orphaned before it could watch its host.
	hostPidEnv = "LRSBRIDGE_SINK_HOST_PID"
	// hostPipeEnv says that standard input is a pipe from the host: it
	// carries the TLS line, then stays open until the host ends.
	hostPipeEnv = "LRSBRIDGE_SINK_HOST_PIPE"
)

// errLaunchCancelled is returned by procRunner.Start when the launch ended
// before the process was started.
var errLaunchCancelled = errors.New("launch cancelled before the process started")

// procRunner starts and owns one plugin process for go-plugin (it is
// go-plugin's runner.Runner). Unlike go-plugin's own runner it executes a
// prepared (verified) executable, gives the plugin a standard input pipe
// that closes when the host dies, and can be aborted: once abort was called,
// no process is started, and a process already started is killed.
type procRunner struct {
	name string // the configured path, for logs and argv[0]
	args []string
	env  []string
	exe  *executable
	tls  *launchTLS // gives the first line written to the plugin's standard input
	nice int        // lowers the process's CPU priority (procnice)

	mu        sync.Mutex
	cmd       *exec.Cmd
	stdout    io.ReadCloser
	stderr    io.ReadCloser
	hostPipe  *os.File // host end of the standard input pipe
	aborted   bool
	pid       int
	socketDir string
}

var _ runner.Runner = (*procRunner)(nil)

// bind is go-plugin's RunnerFunc: cmd carries the environment go-plugin
// wants the plugin to have, socketDir the directory for its socket.
func (r *procRunner) bind(cmd *exec.Cmd, socketDir string) *procRunner {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := exec.Command(r.exe.path, r.args...)
	c.Args[0] = r.name
	c.Env = append(append(append([]string(nil), r.env...), cmd.Env...),
		hostPidEnv+"="+strconv.Itoa(os.Getpid()), hostPipeEnv+"=1")
	r.cmd = c
	r.socketDir = socketDir
	return r
}

// Start starts the process, unless the launch was aborted.
func (r *procRunner) Start(context.Context) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.exe.close() // the child has its own reference once started
	if r.aborted {
		r.cleanupUnstarted()
		return errLaunchCancelled
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		r.cleanupUnstarted()
		return err
	}
	defer pr.Close()
	r.cmd.Stdin = pr
	if r.stdout, err = r.cmd.StdoutPipe(); err == nil {
		r.stderr, err = r.cmd.StderrPipe()
	}
	if err == nil {
		err = procnice.Start(r.cmd, r.nice)
	}
	if err != nil {
		pw.Close()
		r.cleanupUnstarted()
		return fmt.Errorf("start plugin %s: %w", r.name, err)
	}
	r.pid = r.cmd.Process.Pid
	r.hostPipe = pw
	// The plugin's key pair was being made while the process started;
	// once it is there, the host's TLS configuration is complete too,
	// before go-plugin dials.
	line, err := r.tls.wait()
	if err != nil {
		_ = r.cmd.Process.Kill()
		return fmt.Errorf("start plugin %s: make TLS certificates: %w", r.name, err)
	}
	// The line is far smaller than a pipe's buffer: this does not block.
	if _, err := pw.Write(line); err != nil {
		_ = r.cmd.Process.Kill()
		return fmt.Errorf("start plugin %s: write TLS line: %w", r.name, err)
	}
	return nil
}

// cleanupUnstarted removes what go-plugin made for a process that is never
// started (it only removes it for one that was).
func (r *procRunner) cleanupUnstarted() {
	if r.socketDir != "" {
		_ = os.RemoveAll(r.socketDir)
	}
}

// abort keeps the process from starting, or kills it if it started.
func (r *procRunner) abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aborted = true
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
}

// Wait waits for the process to exit, then closes the host's end of the
// standard input pipe.
func (r *procRunner) Wait(context.Context) error {
	r.mu.Lock()
	cmd, pipe := r.cmd, r.hostPipe
	r.mu.Unlock()
	err := cmd.Wait()
	if pipe != nil {
		_ = pipe.Close()
	}
	return err
}

// Kill kills the process; killing it again is not an error.
func (r *procRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Stdout returns the process's standard output (the handshake).
func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }

// Stderr returns the process's standard error (its log lines).
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }

// Name returns the configured path of the plugin.
func (r *procRunner) Name() string { return r.name }

// ID returns the process id, or "" before the process started.
func (r *procRunner) ID() string {
	if pid := r.processID(); pid != 0 {
		return strconv.Itoa(pid)
	}
	return ""
}

// processID returns the process id, or 0 before the process started.
func (r *procRunner) processID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pid
}

// Diagnose says what commonly keeps a plugin from starting.
func (r *procRunner) Diagnose(context.Context) string {
	return "the plugin did not complete the handshake: check that it is an lrsbridge sink plugin built for this system and that it does not exit at start"
}

// PluginToHost returns the plugin's address unchanged: the plugin runs on
// this machine.
func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

// HostToPlugin returns the host's address unchanged.
func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
