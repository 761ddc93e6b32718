// Command learningflow is a stand-in for the LearningFlow platform that
// embeds the lrsbridge host. It runs the demo, records event files, and
// serves the organization settings panel with its JSON API.
//
// Usage:
//
//	learningflow [-config FILE] [-events FILE|- [-drain]] [-listen ADDR] [flags]
//	learningflow -generate N [-seed S] > events.ndjson
//
// With no flags it runs the demo: the embedded demo.yaml configuration with
// two organizations (acme delivers through the lrs plugin to a development
// LRS the demo starts on 127.0.0.1; beacon archives to a directory), a
// generator of realistic events (H5P, SCORM 1.2 and 2004, Storyline,
// chatbot, quizzes) at -rate events per second, and the settings panel on
// http://127.0.0.1:8080/ (-listen). Its data lives in a new temporary
// directory, removed at exit (-data DIR keeps it). The plugins are built
// from this repository's ./plugins into the user's cache directory
// (-plugins DIR), which needs the go command and the source tree.
//
// -config FILE runs the host of that configuration instead (YAML plus
// LRSBRIDGE_ environment variables), without development LRS or generator.
// It uses the plugins of its plugins.dir (or -plugins) as they are and
// never runs the go command.
//
// -events FILE records the NDJSON event envelopes of FILE ("-" for stdin),
// with the demo configuration unless -config is given. Every line that is
// not recorded (malformed JSON, an invalid event) is reported on stderr
// with its line number and reason and counted as refused; the other lines
// go on. Long files show a progress line on stderr every -progress. With
// -drain it then waits until every statement is delivered or
// dead-lettered (at most -drain-timeout), prints a one-line JSON summary
// on stdout and exits 0 when nothing was refused, dead-lettered or left
// queued, 1 otherwise. Without -drain it prints the recording counts and
// shuts down, or with -listen keeps serving.
//
// The panel (package host/panel) and its JSON API (package host/httpapi,
// under /api/, described by /api/openapi.yaml) are served with an
// authorizer that allows everything: the demo has no login and no TLS and
// is for loopback. The API accepts only JSON bodies (NDJSON for POST
// /api/events) and refuses cross-origin browser requests. Secrets are
// never part of an answer or a log. The server cuts off requests whose
// body is not sent within 30 seconds.
//
// While serving, a progress line every -status-every says how many events
// came in, how many statements were delivered and how many are queued. At
// exit it waits up to 10 seconds for the queues to drain and says what
// happens to what is left.
//
// Exit codes: 0 success, 1 failure (or refused / undelivered events), 2
// bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ()}
	os.Exit(a.run(ctx, os.Args[1:]))
}

// defaultListen is where the panel listens unless -listen says otherwise.
const defaultListen = "127.0.0.1:8080"

// options are the parsed command line.
type options struct {
	config       string
	events       string
	drain        bool
	drainTimeout time.Duration
	listen       string
	data         string
	plugins      string
	rate         float64
	generate     int
	seed         uint64
	progress     time.Duration
	statusEvery  time.Duration
	workers      int
	verbose      bool
	trace        bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("learningflow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.config, "config", "", "host configuration `file` (YAML; LRSBRIDGE_ variables override it); default: the embedded demo")
	fs.StringVar(&o.events, "events", "", "record the NDJSON event envelopes of `file` (- for stdin)")
	fs.BoolVar(&o.drain, "drain", false, "with -events: wait until everything is delivered or dead-lettered, print a JSON summary and exit")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 10*time.Minute, "longest wait of -drain")
	fs.StringVar(&o.listen, "listen", "", "serve the settings panel and its API (with POST /api/events) on `address` (default "+defaultListen+" when serving)")
	fs.StringVar(&o.data, "data", "", "demo data `directory`, kept at exit (default: a new temporary directory, removed at exit)")
	fs.StringVar(&o.plugins, "plugins", "", "plugin `directory` (built there from ./plugins when the go command is found); default: the configuration's, or the user cache for the demo")
	fs.Float64Var(&o.rate, "rate", 2, "demo: generated events per second (0 turns the generator off)")
	fs.IntVar(&o.generate, "generate", 0, "write `n` generated events as NDJSON to stdout and exit")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of -generate")
	fs.DurationVar(&o.progress, "progress", 2*time.Second, "interval of progress lines while recording -events (0: none)")
	fs.DurationVar(&o.statusEvery, "status-every", 30*time.Second, "interval of progress lines while serving (0: none)")
	fs.IntVar(&o.workers, "workers", 8, "events recorded at once (events of one learner stay in order)")
	fs.BoolVar(&o.verbose, "v", false, "log at debug level")
	fs.BoolVar(&o.trace, "trace", false, "trace events: print finished spans to stderr, or send them by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.drain && o.events == "":
		return o, errors.New("-drain needs -events")
	case o.drain && o.listen != "":
		return o, errors.New("-drain exits when done; it cannot be combined with -listen")
	case o.generate < 0:
		return o, errors.New("-generate must not be negative")
	case o.generate > 0 && (o.events != "" || o.config != "" || o.listen != ""):
		return o, errors.New("-generate only writes events; it cannot be combined with -events, -config or -listen")
	case o.rate < 0 || o.rate > 1000:
		return o, errors.New("-rate must be 0 to 1000")
	case o.workers < 1 || o.workers > 256:
		return o, errors.New("-workers must be 1 to 256")
	case o.statusEvery < 0:
		return o, errors.New("-status-every must not be negative")
	case o.drainTimeout <= 0:
		return o, errors.New("-drain-timeout must be positive")
	}
	return o, nil
}

// app is the program with its inputs and outputs.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	// started, when set, is called once the host runs (and the panel
	// listens, when it is served).
	started func(*running)
	// serverTimeouts, when set, replace defaultTimeouts (tests).
	serverTimeouts *serverTimeouts
}

// running is what a started program runs.
type running struct {
	host *host.Host
	// demo is nil with -config.
	demo *demoEnv
	// panelURL is the panel's base URL, when it is served.
	panelURL string
	// events counts the events recorded while serving (generated and
	// posted), recorded or refused.
	events atomic.Int64
}

// RecordEvent records ev with the host and counts it: the demo's
// httpapi.Recorder.
func (rn *running) RecordEvent(ctx context.Context, ev host.Event) ([]*xapi.Statement, error) {
	rn.events.Add(1)
	return rn.host.RecordEvent(ctx, ev)
}

// run runs the program and returns its exit code.
func (a *app) run(ctx context.Context, args []string) int {
	o, err := parseFlags(args, a.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
		return 2
	}
	if o.generate > 0 {
		if err := writeGenerated(a.stdout, o.generate, o.seed); err != nil {
			fmt.Fprintln(a.stderr, "learningflow:", err)
			return 1
		}
		return 0
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))

	var (
		cfg  host.Config
		demo *demoEnv
	)
	if o.config != "" {
		if cfg, err = host.LoadConfig(o.config, a.environ); err != nil {
			fmt.Fprintln(a.stderr, "learningflow:", err)
			return 1
		}
		if o.plugins != "" {
			cfg.Plugins.Dir = o.plugins
		}
	} else {
		if demo, cfg, err = startDemo(o.data, o.plugins, a.environ); err != nil {
			fmt.Fprintln(a.stderr, "learningflow:", err)
			return 1
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			demo.Close(cctx)
		}()
	}
	if demo != nil {
		err = ensurePlugins(ctx, cfg.Plugins.Dir, configuredPlugins(cfg, "lrs"), a.stderr)
	} else {
		err = checkPlugins(cfg.Plugins.Dir, configuredPlugins(cfg))
	}
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
		return 1
	}
	tel, err := setupTelemetry(ctx, o.trace, a.environ, a.stderr)
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
		return 1
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	h, err := host.New(cfg, hostOptions(log, tel)...)
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow: start the host:", err)
		return 1
	}
	hostDown := false
	shutdown := func(d time.Duration) error {
		if hostDown {
			return nil
		}
		hostDown = true
		sctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return h.Shutdown(sctx)
	}
	defer func() { _ = shutdown(10 * time.Second) }()
	rn := &running{host: h, demo: demo}
	if demo != nil {
		a.printDemo(demo, o)
	}

	code := 0
	if o.events != "" {
		start := time.Now()
		st, err := a.recordFile(ctx, h, o)
		if err != nil {
			fmt.Fprintln(a.stderr, "learningflow:", err)
			return 1
		}
		if st.Refused > 0 {
			code = 1
		}
		if o.drain {
			if a.started != nil {
				a.started(rn)
			}
			return a.drain(ctx, h, st, start, o.drainTimeout)
		}
		if o.listen == "" {
			_ = json.NewEncoder(a.stdout).Encode(st)
			a.stop(a.stderr, h, demo, shutdown) // stdout carries the counts
			return code
		}
	}

	addr := o.listen
	if addr == "" {
		addr = defaultListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(a.stderr, "learningflow: serve the panel: %v (choose another address with -listen, for example 127.0.0.1:0)\n", err)
		return 1
	}
	rn.panelURL = "http://" + ln.Addr().String() + "/"
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintln(a.stderr, "learningflow: WARNING: the panel has no login and is now reachable beyond this machine; use a loopback address")
	}
	handler, err := newMux(rn, o, log)
	if err != nil {
		fmt.Fprintln(a.stderr, "learningflow:", err)
		return 1
	}
	handler, closeLaunched := withLaunchedContent(handler, h, cfg.DataDir, rn.panelURL, a.stderr)
	defer closeLaunched()
	handler = tel.withMetrics(handler)
	srv := newServer(handler, a.timeouts(), log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(a.stdout, "settings panel: %s (no login: keep it on loopback; Ctrl-C stops)\n", rn.panelURL)
	if demo != nil { // the demo's organizations include acme
		base := strings.TrimSuffix(rn.panelURL, "/")
		fmt.Fprintf(a.stdout, "launched content: %s%s?org=acme&user=u-1 (Tin Can course), %s%s?org=acme&user=u-1 (cmi5 quiz)\n",
			base, sampleLaunchPath, base, cmi5LaunchPath)
	}
	stopProgress := a.reportProgress(rn, o.statusEvery)

	genDone := make(chan struct{})
	genCtx, stopGen := context.WithCancel(ctx)
	if demo != nil && o.events == "" && o.rate > 0 {
		go func() {
			defer close(genDone)
			a.generateLive(genCtx, rn, log, o.rate)
		}()
	} else {
		close(genDone)
	}
	if a.started != nil {
		a.started(rn)
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintln(a.stderr, "learningflow: panel:", err)
		code = 1
	}
	stopGen()
	<-genDone
	stopProgress()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	cancel()
	a.stop(a.stdout, h, demo, shutdown)
	return code
}

// configuredPlugins lists the plugins the configuration's integrations
// use, and extra ones (the demo adds lrs, which its panel offers).
func configuredPlugins(cfg host.Config, extra ...string) []string {
	seen := map[string]bool{}
	for _, p := range extra {
		seen[p] = true
	}
	for _, o := range cfg.Orgs {
		for _, s := range o.Sinks {
			seen[s.Plugin] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// printDemo says what the demo runs: on stdout for the interactive demo,
// on stderr with -events, whose stdout carries the results.
func (a *app) printDemo(d *demoEnv, o options) {
	w := a.stdout
	if o.events != "" {
		w = a.stderr
	}
	fmt.Fprintln(w, "lrsbridge demo: LearningFlow events -> host -> sink plugins")
	if d.tempData {
		fmt.Fprintf(w, "  data directory:  %s (temporary, removed at exit; -data DIR keeps one)\n", d.DataDir)
	} else {
		fmt.Fprintf(w, "  data directory:  %s\n", d.DataDir)
	}
	fmt.Fprintf(w, "  configuration:   %s (from the embedded demo.yaml)\n", d.ConfigFile)
	fmt.Fprintf(w, "  development LRS: %s  API key %s  API secret %s\n", d.LRSEndpoint, demoLRSKey, d.LRSSecret)
	fmt.Fprintln(w, "  organizations:   acme -> the development LRS (lrs plugin)")
	fmt.Fprintf(w, "                   beacon -> archive in %s (archive plugin)\n", d.ArchiveDir)
	if o.events == "" && o.rate > 0 {
		fmt.Fprintf(w, "  events:          generating about %g per second (-rate)\n", o.rate)
	}
}

// generateLive records generated demo events at about rate per second
// until ctx ends.
func (a *app) generateLive(ctx context.Context, h httpapi.Recorder, log *slog.Logger, rate float64) {
	g := newGenerator(demoOrgs, uint64(time.Now().UnixNano()), "demo-"+randomHex(3), time.Now)
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ev := g.Next()
		if _, err := h.RecordEvent(ctx, ev); err != nil && ctx.Err() == nil {
			log.Warn("generated event not recorded", "event", ev.ID, "kind", ev.Kind, "error", err)
		}
	}
}

// writeGenerated writes n generated events as NDJSON, deterministic for
// seed: event times advance from a fixed start by a few seconds each.
func writeGenerated(w io.Writer, n int, seed uint64) error {
	clock := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	g := newGenerator(demoOrgs, seed, fmt.Sprintf("gen%d", seed), func() time.Time { return clock })
	enc := json.NewEncoder(w)
	for range n {
		ev := g.Next()
		if err := enc.Encode(ev); err != nil {
			return err
		}
		clock = clock.Add(time.Duration(1+g.rng.IntN(20)) * time.Second)
	}
	return nil
}
