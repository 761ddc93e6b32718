package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/host/panel"
)

// serverTimeouts bound how long a client may hold a connection: a body
// trickled in slowly is cut off after ReadTimeout instead of being held
// for minutes, and the answer must be written within WriteTimeout (a
// connection test takes at most httpapi.DefaultTestTimeout).
type serverTimeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// defaultTimeouts are the demo server's.
var defaultTimeouts = serverTimeouts{
	ReadHeader: 5 * time.Second,
	Read:       30 * time.Second,
	Write:      httpapi.DefaultTestTimeout + 15*time.Second,
	Idle:       60 * time.Second,
}

// newServer returns the demo's web server for handler.
func newServer(handler http.Handler, t serverTimeouts, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// mount adds one part of the demo's web server to mux. Each part lives in
// its own small function (and file); mounts lists them.
type mount func(mux *http.ServeMux, rn *running, o options, log *slog.Logger) error

// mounts are the parts of the demo's web server, in order.
var mounts = []mount{mountPanel}

// mountPanel serves the settings panel at / and its API at /api/. The
// demo allows every request: it listens on loopback and has no login.
func mountPanel(mux *http.ServeMux, rn *running, o options, log *slog.Logger) error {
	hint := ""
	if rn.demo != nil {
		hint = fmt.Sprintf("Demo LRS: endpoint %s, API key %q; its secret is printed in the terminal.", rn.demo.LRSEndpoint, demoLRSKey)
	}
	h, err := panel.New(rn.host, panel.Options{
		Authorizer: httpapi.AllowAll(),
		Notice:     "This panel has no login. It is a development tool: keep it on 127.0.0.1 and never expose it to a network.",
		Hint:       hint,
		API:        httpapi.Options{Workers: o.workers, Recorder: rn},
		Logger:     log,
	})
	if err != nil {
		return err
	}
	mux.Handle("/", h)
	return nil
}

// newMux builds the demo's handler from mounts.
func newMux(rn *running, o options, log *slog.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	for _, m := range mounts {
		if err := m(mux, rn, o, log); err != nil {
			return nil, err
		}
	}
	return mux, nil
}
