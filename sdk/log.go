package sdk

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// logLevelEnv is the environment variable through which the host tells a
// plugin the least severe level it will keep, so that the plugin does not
// format lines the host drops.
const logLevelEnv = "LRSBRIDGE_SINK_LOG_LEVEL"

// levelTrace is hclog's trace level expressed as an slog level.
const levelTrace = slog.LevelDebug - 4

// timestampLayout is the layout of "@timestamp" that go-plugin parses.
const timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// pluginStderr is the process's standard error as it was when the program
// started. go-plugin replaces os.Stderr while serving; log lines must go to
// the real one, which the host reads.
var pluginStderr = os.Stderr

var defaultLogger = sync.OnceValue(func() *slog.Logger {
	return slog.New(NewLogHandler(pluginStderr, &slog.HandlerOptions{Level: levelFromEnv()}))
})

// Logger returns the logger a plugin logs through. It writes JSON lines to
// the plugin's standard error in the format the host reads, and the host
// re-levels them into its own logger, so a plugin logs at the levels it
// means. Its level is the one the host asked for when it started the plugin
// (info by default). Never log configuration maps, secrets or statement
// bodies.
func Logger() *slog.Logger { return defaultLogger() }

func levelFromEnv() slog.Level {
	switch strings.ToLower(os.Getenv(logLevelEnv)) {
	case "trace":
		return levelTrace
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// levelName returns the hclog name of an slog level.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// NewLogHandler returns an slog handler writing the JSON log lines a host
// reads from a plugin's standard error: one object per line with the keys
// "@level", "@message" and "@timestamp" (hclog's JSON format), attributes as
// further keys. Plugins normally use [Logger]; NewLogHandler is for plugins
// that want to wrap the handler or set their own options. opts may be nil.
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	user := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 {
			switch a.Key {
			case slog.TimeKey:
				if t, ok := a.Value.Any().(time.Time); ok {
					return slog.String("@timestamp", t.Format(timestampLayout))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", levelName(l))
				}
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
		}
		if user != nil {
			return user(groups, a)
		}
		return a
	}
	return slog.NewJSONHandler(w, &o)
}

// levelString returns the hclog name of the least severe level l keeps.
func levelString(l *slog.Logger) string {
	ctx := context.Background()
	for _, lv := range []slog.Level{levelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if l.Enabled(ctx, lv) {
			return levelName(lv)
		}
	}
	return "error"
}
