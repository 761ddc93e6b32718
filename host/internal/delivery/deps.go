package delivery

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Settings tune a Worker. They mirror the host's delivery configuration.
type Settings struct {
	// BatchSize and BatchBytes bound one batch.
	BatchSize  int
	BatchBytes int64
	// Linger is how long to wait for a batch to fill.
	Linger time.Duration
	// Parallel is how many batches may be in flight at once (at least 1).
	Parallel int
	// BackoffInitial and BackoffMax bound the retry delay after a failed
	// batch (exponential with jitter).
	BackoffInitial, BackoffMax time.Duration
	// MaxAge is how long a statement may keep failing transiently before
	// it is dead-lettered as expired; 0 means never.
	MaxAge time.Duration
	// BreakerFailures consecutive failed batches open the breaker for
	// BreakerOpen.
	BreakerFailures int
	BreakerOpen     time.Duration
	// Timeout bounds one Deliver call.
	Timeout time.Duration
	// IdleTimeout closes the sink instance after this long without
	// statements, so that its plugin process can stop.
	IdleTimeout time.Duration
	// ConnectTimeout bounds one Connect call.
	ConnectTimeout time.Duration
}

// Conn is a configured sink instance.
type Conn struct {
	// Sink is the instance.
	Sink sdk.Sink
	// Exited, when not nil, is closed once the instance's process is gone:
	// the instance is then dropped without Close and configured again.
	Exited <-chan struct{}
	// Release, when not nil, is called once the worker no longer uses the
	// instance (after its Close, or when it was dropped).
	Release func()
}

// Connector configures the sink instance of a worker's integration.
//
// Connect is called from the worker's goroutine only, never concurrently
// for one worker; gen counts the instances of the worker from 1, so that
// each has its own handle. It returns a *sdk.ConfigError when the
// configuration is refused (the worker pauses, StatePausedConfig), an
// error wrapping ErrPluginUnusable when the plugin cannot run until an
// operator fixes it, for example a missing file or a checksum mismatch
// (the worker pauses, StatePausedPlugin, and logs it once at ERROR), and
// any other error for a failure worth retrying (a plugin that crashed
// while starting).
type Connector interface {
	Connect(ctx context.Context, gen int) (Conn, error)
}

// ConnectorFunc adapts a function to Connector.
type ConnectorFunc func(ctx context.Context, gen int) (Conn, error)

// Connect calls f(ctx, gen).
func (f ConnectorFunc) Connect(ctx context.Context, gen int) (Conn, error) { return f(ctx, gen) }

// DeadLetters is where a worker sets statements aside. Add is called
// concurrently (one call per settled batch); it must be durable when it
// returns nil: the statements leave the queue right after. When it fails,
// the statements stay in the queue and are retried.
type DeadLetters interface {
	Add(ctx context.Context, org string, list []deadletter.Letter) error
}

// States of a worker, as Status reports them.
const (
	StateActive          = "active"
	StateRetrying        = "retrying"
	StatePausedAuth      = "paused_auth"
	StatePausedConfig    = "paused_config"
	StatePausedPlugin    = "paused_plugin"
	StateBreakerOpen     = "breaker_open"
	StateBreakerHalfOpen = "breaker_half_open"
	StateStopped         = "stopped"
)

// Tags the host keeps with every queued statement (queue.Item.Tag): the
// result of the one xAPI version check made when the statement is
// recorded, so that delivery does not scan its bytes again.
const (
	// TagUnchecked: not checked (records of older versions, replayed dead
	// letters); a 1.0.3 instance gets the statement through
	// xapi.ForVersion.
	TagUnchecked byte = 0
	// TagSameForV103: the 2.0.0 encoding holds nothing that 1.0.3 leaves
	// out; every instance gets the bytes as they are.
	TagSameForV103 byte = 1
	// TagNeedsV103: a 1.0.3 instance gets the statement re-encoded.
	TagNeedsV103 byte = 2
)

// StatementTag returns the tag of st from its fields, without encoding or
// scanning anything: TagSameForV103 when st holds nothing that encoding for
// xAPI 1.0.3 leaves out (contextAgents or contextGroups, in the statement or
// its sub-statement, or a version other than 1.0.x), TagNeedsV103
// otherwise.
func StatementTag(st *xapi.Statement) byte {
	v := st.Version
	if v != "" && v != "1.0" && !strings.HasPrefix(v, "1.0.") || !contextSameForV103(st.Context) {
		return TagNeedsV103
	}
	if sub, ok := st.Object.(*xapi.SubStatement); ok && !contextSameForV103(sub.Context) {
		return TagNeedsV103
	}
	return TagSameForV103
}

func contextSameForV103(c *xapi.Context) bool {
	return c == nil || c.ContextAgents == nil && c.ContextGroups == nil
}

// VersionTag checks data, the canonical 2.0.0 encoding of a statement, and
// returns its tag, as StatementTag does for the decoded statement.
func VersionTag(data []byte) byte {
	out, err := xapi.ForVersion(data, xapi.V103)
	switch {
	case err != nil:
		return TagUnchecked
	case len(out) == len(data) && (len(data) == 0 || &out[0] == &data[0]):
		return TagSameForV103
	}
	return TagNeedsV103
}

// ErrPluginUnusable marks a Connect error that retrying cannot heal: the
// plugin's file is missing or does not match its checksum.
var ErrPluginUnusable = errors.New("plugin unusable")
