package sdk

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// hostGoneCloseTimeout bounds how long a plugin whose host ended spends
// closing its sink instances before it exits.
const hostGoneCloseTimeout = 5 * time.Second

// hostWatch ends a plugin process whose host ended, so that no plugin
// outlives its host (holding locks, such as the archive sink's, that a
// restarted host needs). Three signs each suffice:
//
//   - on Linux, the parent-death signal (SIGTERM), which this package asks
//     for when it initializes in a plugin process (see setParentDeathSignal);
//   - a parent that is no longer the host that started the process (the
//     host ended before the signal was asked for);
//   - the end of standard input, a pipe whose other end only the host
//     holds: the kernel closes it when the host ends, on every system.
//
// The plugin then closes its sink instances, for at most
// hostGoneCloseTimeout, and exits with status 0.
type hostWatch struct {
	logger   *slog.Logger
	closeAll func() // closes the sink instances; safe to call more than once
	once     sync.Once
}

// start reads the host's pipe and its TLS line, when the host gave one, and
// starts watching. It returns the TLS configuration the host sent, or nil.
func (w *hostWatch) start() *tls.Config {
	var cfg *tls.Config
	if os.Getenv(hostPipeEnv) == "1" {
		br := bufio.NewReaderSize(os.Stdin, 4096)
		c, err := readTLSLine(br)
		if err != nil {
			// Without the line, go-plugin's own mutual TLS applies.
			w.logger.Warn("reading the host's TLS line failed", "error", err)
		}
		cfg = c
		go func() {
			discard(br)
			w.gone("the host closed the plugin's standard input")
		}()
	}
	if pid, err := strconv.Atoi(os.Getenv(hostPidEnv)); err == nil && pid > 0 {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		go func() {
			<-sig
			w.gone("the plugin received SIGTERM")
		}()
		// Checked after the signal is asked for (at init) and handled
		// (above): a host that ended before is caught here, one that
		// ends after by the signal.
		if os.Getppid() != pid {
			w.gone("the host ended before the plugin started serving")
		}
	}
	return cfg
}

// gone closes the plugin's sink instances and exits the process.
func (w *hostWatch) gone(why string) {
	w.once.Do(func() {
		w.logger.Warn("host gone: plugin exiting", "reason", why)
		ctx, cancel := context.WithTimeout(context.Background(), hostGoneCloseTimeout)
		defer cancel()
		closed := make(chan struct{})
		go func() {
			w.closeAll()
			close(closed)
		}()
		select {
		case <-closed:
		case <-ctx.Done():
			w.logger.Warn("closing sink instances took too long: exiting anyway")
		}
		os.Exit(0)
	})
}
