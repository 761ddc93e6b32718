// Command devlrs runs a development Learning Record Store: the conformant
// xAPI 1.0.3 / 2.0.0 LRS of package sdk/lrsserver over its in-memory store
// (through package sinks/lrs/lrstest, which adds credentials, latency and a
// request log) behind an HTTP server, serving every xAPI resource
// (statements, state, activity and agent profiles, activities, agents,
// about), for testers who want to point the lrs sink (or the settings
// panel of examples/learningflow) at a real endpoint without installing an
// LRS.
//
// Usage:
//
//	devlrs [-listen 127.0.0.1:8081] [-key K] [-secret S] [-versions 1.0.3,2.0.0]
//	       [-path /xapi/] [-resend accept|conflict] [-max-body BYTES]
//	       [-max-statements N] [-latency DURATION] [-v]
//
// It prints the xAPI endpoint, for example http://127.0.0.1:8081/xapi/, and
// serves until interrupted. Statements are kept in memory only and are lost
// when it stops. GET / (outside the xAPI path) shows how many statements
// are stored and the latest requests, without authentication.
//
// The secret can also come from the DEVLRS_SECRET environment variable
// (which keeps it out of the process list); without either, a random one
// is made and printed. An empty -key turns authentication off. The server
// speaks plain http: run it on loopback, and allow loopback and http in
// the host's egress policy (egress.allow_cidrs: ["127.0.0.0/8"],
// egress.allow_http: true) for testing only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil))
}

// options are the parsed command line.
type options struct {
	listen        string
	key, secret   string
	versions      []string
	path          string
	resend        lrstest.ResendPolicy
	maxBody       int64
	maxStatements int
	latency       time.Duration
	verbose       bool
	// secretMade is true when the secret was generated.
	secretMade bool
}

// parseFlags reads the command line; getenv supplies DEVLRS_SECRET.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("devlrs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8081", "`address` to listen on (port 0 picks a free port)")
	fs.StringVar(&o.key, "key", "devlrs", "API `key` (HTTP Basic user name); empty turns authentication off")
	fs.StringVar(&o.secret, "secret", "", "API `secret` (HTTP Basic password); default $DEVLRS_SECRET, else a random one")
	versions := fs.String("versions", strings.Join(lrstest.DefaultVersions, ","), "comma-separated xAPI `versions` to support: 1.0.3, 2.0.0")
	fs.StringVar(&o.path, "path", lrstest.DefaultBasePath, "`path` of the xAPI endpoint")
	resend := fs.String("resend", "accept", "answer to a statement id already stored with identical content: accept or conflict (409)")
	fs.Int64Var(&o.maxBody, "max-body", 0, "answer 413 to statement requests larger than `bytes` (0: no limit)")
	fs.IntVar(&o.maxStatements, "max-statements", 0, "answer 413 to a POST with more than `n` statements (0: no limit)")
	fs.DurationVar(&o.latency, "latency", 0, "delay every answer by `duration`, to test timeouts")
	fs.BoolVar(&o.verbose, "v", false, "log every request (method, resource, statements, status; never credentials)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, v := range strings.Split(*versions, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		pv, err := xapi.ParseVersion(v)
		if err != nil {
			return o, fmt.Errorf("-versions: %w", err)
		}
		o.versions = append(o.versions, string(pv))
	}
	if len(o.versions) == 0 {
		return o, errors.New("-versions: name at least one version")
	}
	switch *resend {
	case "accept":
		o.resend = lrstest.ResendAccept
	case "conflict":
		o.resend = lrstest.ResendConflict
	default:
		return o, fmt.Errorf("-resend: %q is not accept or conflict", *resend)
	}
	if !strings.HasPrefix(o.path, "/") {
		o.path = "/" + o.path
	}
	if !strings.HasSuffix(o.path, "/") {
		o.path += "/"
	}
	if o.maxBody < 0 || o.maxStatements < 0 || o.latency < 0 {
		return o, errors.New("-max-body, -max-statements and -latency must not be negative")
	}
	if o.key != "" {
		if strings.ContainsRune(o.key, ':') {
			return o, errors.New("-key must not contain a colon")
		}
		if o.secret == "" {
			o.secret = getenv("DEVLRS_SECRET")
		}
		if o.secret == "" {
			o.secret = randomSecret()
			o.secretMade = true
		}
	}
	return o, nil
}

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Server is a running development LRS.
type Server struct {
	// LRS is the in-memory store; tests inspect it.
	LRS *lrstest.LRS
	// Endpoint is the xAPI endpoint URL, ending in "/".
	Endpoint string

	srv *http.Server
	ln  net.Listener
}

// start listens on o.listen and serves the LRS in the background.
func start(o options, logw io.Writer) (*Server, error) {
	opts := lrstest.Options{
		BasePath:      o.path,
		Versions:      o.versions,
		Resend:        o.resend,
		MaxBodyBytes:  o.maxBody,
		MaxStatements: o.maxStatements,
	}
	if o.key != "" {
		opts.Credentials = []lrstest.Credential{{Key: o.key, Secret: o.secret}}
	}
	l := lrstest.New(opts)
	l.SetLatency(o.latency)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, err
	}
	s := &Server{LRS: l, ln: ln, Endpoint: "http://" + ln.Addr().String() + l.BasePath()}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			s.index(w)
			return
		}
		l.ServeHTTP(w, r)
	})
	if o.verbose {
		h = logRequests(h, l, logw)
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // ends with Shutdown
	return s, nil
}

// Shutdown stops the server, waiting for requests in progress until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// index writes a plain-text summary: stored statements and recent requests.
func (s *Server) index(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "devlrs: development LRS (in memory)\nxAPI endpoint: %s\nstatements stored: %d\n", s.Endpoint, s.LRS.Len())
	reqs := s.LRS.Requests()
	if len(reqs) > 20 {
		reqs = reqs[len(reqs)-20:]
	}
	fmt.Fprintf(w, "\nlatest requests (oldest first):\n")
	for _, r := range reqs {
		fmt.Fprintf(w, "%s %s version=%q statements=%d -> %d\n", r.Method, r.Resource, r.Version, r.Statements, r.Status)
	}
}

// logRequests logs one line per request after it was answered, using what
// the LRS remembers of it (never the Authorization header).
func logRequests(next http.Handler, l *lrstest.LRS, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(rw, r)
		if r.URL.Path == "/" {
			return
		}
		reqs := l.Requests()
		if len(reqs) == 0 {
			return
		}
		last := reqs[len(reqs)-1] // concurrent requests may interleave; this is a log
		fmt.Fprintf(w, "%s %s %s statements=%d status=%d %s\n", time.Now().Format(time.TimeOnly),
			last.Method, last.Resource, last.Statements, last.Status, time.Since(start).Round(time.Millisecond))
	})
}

// run is main with its inputs passed in; it returns the exit code. When
// ready is not nil it receives the server once it listens.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(*Server)) int {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "devlrs:", err)
		return 2
	}
	s, err := start(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "devlrs:", err)
		return 1
	}
	fmt.Fprintf(stdout, "devlrs: xAPI endpoint %s (versions %s)\n", s.Endpoint, strings.Join(o.versions, ", "))
	switch {
	case o.key == "":
		fmt.Fprintln(stdout, "devlrs: authentication is off")
	case o.secretMade:
		fmt.Fprintf(stdout, "devlrs: key %s, secret %s (generated; set -secret or DEVLRS_SECRET to choose one)\n", o.key, o.secret)
	default:
		fmt.Fprintf(stdout, "devlrs: key %s, secret as given\n", o.key)
	}
	if host, _, err := net.SplitHostPort(s.ln.Addr().String()); err == nil {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			fmt.Fprintln(stderr, "devlrs: warning: listening beyond loopback; this development LRS has no TLS and keeps statements in memory")
		}
	}
	if ready != nil {
		ready(s)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "devlrs: shutdown:", err)
		return 1
	}
	fmt.Fprintf(stdout, "devlrs: stopped with %d statements stored\n", s.LRS.Len())
	return 0
}
