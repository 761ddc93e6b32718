package sdk

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
)

// ReattachConfig tells a host how to attach to a plugin that it did not
// start itself: one served in test mode inside a test binary, or in debug
// mode under a debugger. It is plain data and encodes as JSON.
type ReattachConfig struct {
	// Network is "unix" or "tcp".
	Network string `json:"network"`
	// Address is the socket path or host:port the plugin listens on.
	Address string `json:"address"`
	// Pid is the id of the process serving the plugin.
	Pid int `json:"pid"`
	// ProtocolVersion is the protocol version the plugin serves.
	ProtocolVersion int `json:"protocol_version"`
	// Test is true if the plugin process is not the host's to kill: the
	// host closes its connection and leaves the process alone.
	Test bool `json:"test"`
}

// ServeOption configures [Serve].
type ServeOption interface {
	apply(*serveConfig)
}

type serveOptionFunc func(*serveConfig)

func (f serveOptionFunc) apply(c *serveConfig) { f(c) }

type serveConfig struct {
	logger *slog.Logger
	test   *serveTest
	debug  bool
}

type serveTest struct {
	ctx   context.Context
	ready func(ReattachConfig)
}

// WithLogger sets the logger for the messages of the SDK and go-plugin
// inside the plugin process. The default is [Logger].
func WithLogger(l *slog.Logger) ServeOption {
	return serveOptionFunc(func(c *serveConfig) { c.logger = l })
}

// WithTestMode serves in the current process, for tests: Serve does not
// check the handshake cookie, does not touch stdout or stderr, calls ready
// with the address to attach to once it listens (pass it to
// [LaunchConfig].Reattach), and returns once ctx is done. By default Serve serves a host that started the process.
func WithTestMode(ctx context.Context, ready func(ReattachConfig)) ServeOption {
	return serveOptionFunc(func(c *serveConfig) { c.test = &serveTest{ctx: ctx, ready: ready} })
}

// WithDebug serves in debug mode: the plugin is started by hand (for
// example under a debugger), prints to stderr the [ReattachConfig] a host
// needs to attach to it (as JSON in the variable LRSBRIDGE_SINK_REATTACH),
// and serves until interrupted. Off by default.
func WithDebug(debug bool) ServeOption {
	return serveOptionFunc(func(c *serveConfig) { c.debug = debug })
}

// Serve serves p to the host that started this process, over the sink
// protocol, until the host shuts the plugin down or the process is killed.
// It is the whole main function of a plugin:
//
//	func main() { sdk.Serve(webhook.Provider()) }
//
// Serve negotiates the protocol version, sets up mutual TLS if the host
// asks for it, and recovers panics in sink code, which the host sees as
// errors wrapping [ErrSinkPanicked]. Anything the plugin writes to os.Stdout
// ends up in the host's log instead of corrupting the protocol; see also
// [Logger]. Once serving ends Serve closes the instances still open and
// returns.
//
// A plugin started by a host exits when that host ends, however it ends
// (killed, crashed): on Linux through the parent-death signal, everywhere
// through its standard input, a pipe from the host that closes with it. It
// first closes its sink instances, for at most five seconds.
//
// Run directly rather than by a host, the program prints an explanation and
// exits with status 1.
func Serve(p Provider, opts ...ServeOption) {
	var cfg serveConfig
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = Logger()
	}
	srv := newServer(p, cfg.logger)
	tracing := newPluginTracing(cfg.test == nil)
	closeAll := sync.OnceFunc(func() { srv.closeAll(context.Background()) })
	sc := &plugin.ServeConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(srv),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.ForceServerCodecV2(batchCodec{}), experimental.BufferPool(bufferPool), tracing.serverOption())...)
		},
		Logger: newHCLogger(cfg.logger, "go-plugin"),
	}

	switch {
	case cfg.test != nil:
		serveAttachable(sc, cfg.test.ctx, cfg.test.ready)
	case cfg.debug:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		serveAttachable(sc, ctx, func(rc ReattachConfig) {
			b, _ := json.Marshal(rc)
			fmt.Fprintf(pluginStderr, "lrsbridge sink plugin serving in debug mode; attach with:\nLRSBRIDGE_SINK_REATTACH='%s'\n", b)
		})
	default:
		watch := &hostWatch{logger: cfg.logger, closeAll: closeAll}
		if tc := watch.start(); tc != nil {
			sc.TLSProvider = func() (*tls.Config, error) { return tc, nil }
		}
		if handshakeStdout != nil {
			// go-plugin writes the handshake line to os.Stdout and then
			// points os.Stdout at its own pipe.
			os.Stdout = handshakeStdout
			base := sc.GRPCServer
			sc.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
				return base(append(opts, rerouteStdout()...))
			}
		}
		plugin.Serve(sc)
	}
	closeAll()
}

// rerouteStdout returns gRPC server options that, at the first call, point
// os.Stdout back at file descriptor 1, which leads to standard error since
// this package initialized. go-plugin would otherwise forward what the
// plugin prints through a gRPC stream that it cuts when the host kills the
// plugin, losing the last lines; standard error is read to its end. The
// first call comes after go-plugin pointed os.Stdout at its pipe.
func rerouteStdout() []grpc.ServerOption {
	var once sync.Once
	swap := func() { once.Do(func() { os.Stdout = stdoutToStderr }) }
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			swap()
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			swap()
			return h(srv, ss)
		}),
	}
}

// serveAttachable serves in go-plugin's test mode, which is also what debug
// mode needs: no cookie, no stdio takeover, a reattach config instead of a
// handshake line.
func serveAttachable(sc *plugin.ServeConfig, ctx context.Context, ready func(ReattachConfig)) {
	ch := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	sc.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: ch, CloseCh: closed}
	go func() {
		select {
		case rc := <-ch:
			if ready != nil {
				ready(reattachFromPlugin(rc))
			}
		case <-closed:
		}
	}()
	plugin.Serve(sc)
}

func reattachFromPlugin(rc *plugin.ReattachConfig) ReattachConfig {
	return ReattachConfig{
		Network:         rc.Addr.Network(),
		Address:         rc.Addr.String(),
		Pid:             rc.Pid,
		ProtocolVersion: rc.ProtocolVersion,
		Test:            rc.Test,
	}
}

func reattachToPlugin(rc ReattachConfig) (*plugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	switch rc.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", rc.Address)
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", rc.Address)
	default:
		err = fmt.Errorf("unsupported network %q", rc.Network)
	}
	if err != nil {
		return nil, fmt.Errorf("sdk: reattach address: %w", err)
	}
	v := rc.ProtocolVersion
	if v == 0 {
		v = ProtocolVersion
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.ProtocolGRPC,
		ProtocolVersion: v,
		Addr:            addr,
		Pid:             rc.Pid,
		Test:            rc.Test,
	}, nil
}
