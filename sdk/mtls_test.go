package sdk

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
)

// tlsHandshake runs a TLS handshake between a client and a server config
// over an in-memory connection and returns the client's and the server's
// error. In TLS 1.3 the client learns that the server refused its
// certificate only when it reads, so it reads until the server is done.
func tlsHandshake(client, server *tls.Config) (cerr, serr error) {
	c, s := net.Pipe()
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		done <- tls.Server(s, server).Handshake()
		s.Close()
	}()
	cl := tls.Client(c, client)
	if cerr = cl.Handshake(); cerr != nil {
		c.Close()
		return cerr, <-done
	}
	_, rerr := cl.Read(make([]byte, 1))
	if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrClosedPipe) {
		cerr = rerr
	}
	return cerr, <-done
}

// TestLaunchTLSIsMutual checks that the host and the plugin of one launch
// accept each other, and that each refuses the other side of another
// launch.
func TestLaunchTLSIsMutual(t *testing.T) {
	pluginSide := func(l *launchTLS) *tls.Config {
		t.Helper()
		line, err := l.wait()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := readTLSLine(bufio.NewReader(bytes.NewReader(line)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	hostA, err := newHostIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	hostB, err := newHostIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := startLaunchTLS(hostA)
	// Another launch of the same host: its plugin has a key of its own.
	a2 := startLaunchTLS(hostA)
	b := startLaunchTLS(hostB)
	// pluginSide waits for each launch's keys: the host sides are
	// complete after it.
	plugA, plugA2, plugB := pluginSide(a), pluginSide(a2), pluginSide(b)
	tests := []struct {
		name    string
		client  *tls.Config
		server  *tls.Config
		wantErr bool
	}{
		{"host and its plugin", a.host, plugA, false},
		{"another host", b.host, plugA, true},
		{"another plugin", a.host, plugB, true},
		{"another launch's plugin of the same host", a.host, plugA2, true},
		{"the same host, its next launch", a2.host, plugA2, false},
		{"a client without certificate", &tls.Config{RootCAs: a.host.RootCAs, ServerName: "localhost"}, plugA, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cerr, serr := tlsHandshake(tt.client.Clone(), tt.server)
			if got := cerr != nil || serr != nil; got != tt.wantErr {
				t.Errorf("handshake: client %v, server %v; want failure %v", cerr, serr, tt.wantErr)
			}
		})
	}
}

func TestReadTLSLineRefusesGarbage(t *testing.T) {
	for _, line := range []string{"", "hello\n", tlsLinePrefix + "a b\n", tlsLinePrefix + "!! !! !!\n"} {
		if _, err := readTLSLine(bufio.NewReader(bytes.NewReader([]byte(line)))); err == nil {
			t.Errorf("readTLSLine(%q) = nil error; want one", line)
		}
	}
}
