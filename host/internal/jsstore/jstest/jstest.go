// Package jstest starts embedded NATS servers with JetStream for tests and
// benchmarks: one server, or a cluster of several in one process, all on
// loopback with ports chosen by the system. Only tests import it, so the
// server is never linked into lrsbridge binaries.
package jstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure the servers.
type Options struct {
	// SyncAlways makes every server fsync each write (the server setting
	// sync_interval: always). Default: the servers' periodic sync.
	SyncAlways bool
}

// Cluster is a set of running servers.
type Cluster struct {
	Servers []*server.Server
}

// URL returns the client URLs of the running servers, comma-separated.
func (c *Cluster) URL() string {
	var urls []string
	for _, s := range c.Servers {
		if s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// Run starts one server and shuts it down at the end of the test.
func Run(t testing.TB, o Options) *Cluster {
	t.Helper()
	s := start(t, serverOptions(t, o, "n1"))
	c := &Cluster{Servers: []*server.Server{s}}
	waitJetStream(t, c)
	return c
}

// RunCluster starts n servers forming one JetStream cluster on loopback
// and shuts them down at the end of the test. JetStream clustering needs
// every node's routes up front, so the route ports are chosen by briefly
// listening on free loopback ports.
func RunCluster(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	c := &Cluster{}
	for i := range n {
		opts := serverOptions(t, o, fmt.Sprintf("n%d", i+1))
		opts.Cluster = server.ClusterOpts{Name: "lrsbridge-test", Host: "127.0.0.1", Port: ports[i]}
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		c.Servers = append(c.Servers, startNoWait(t, opts))
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatal("NATS server not ready for connections")
		}
	}
	waitJetStream(t, c)
	waitPeers(t, c)
	return c
}

// waitPeers waits until the cluster's meta leader knows every server as a
// current, online peer: before that, creating a replicated stream may fail
// with "no suitable peers for placement".
func waitPeers(t testing.TB, c *Cluster) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !peersReady(c) {
		if time.Now().After(deadline) {
			t.Fatal("the JetStream cluster did not see all its peers in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func peersReady(c *Cluster) bool {
	for _, s := range c.Servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
		if !s.JetStreamIsLeader() {
			continue
		}
		if len(s.JetStreamClusterPeers()) != len(c.Servers) {
			return false
		}
		info, err := s.Jsz(nil)
		if err != nil || info.Meta == nil || len(info.Meta.Replicas) != len(c.Servers)-1 {
			return false
		}
		for _, p := range info.Meta.Replicas {
			if !p.Current || p.Offline {
				return false
			}
		}
		return true
	}
	return false
}

func serverOptions(t testing.TB, o Options, name string) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: o.SyncAlways,
	}
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s := startNoWait(t, opts)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready for connections")
	}
	return s
}

func startNoWait(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start NATS server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// waitJetStream waits until JetStream answers (a cluster has elected its
// meta leader).
func waitJetStream(t testing.TB, c *Cluster) {
	t.Helper()
	nc, err := nats.Connect(c.URL())
	if err != nil {
		t.Fatalf("connect to the test servers: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
