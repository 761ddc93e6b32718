package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
)

// ProtocolVersion is the version of the sink wire protocol
// (sdk/proto/sink/v1/sink.proto) this package serves and speaks. It is
// negotiated in the plugin handshake: a host and a plugin that share no
// version refuse to talk instead of misunderstanding each other.
const ProtocolVersion = 1

// The handshake: go-plugin refuses to serve unless the magic cookie is in
// the environment, which keeps a plugin from being run by hand by mistake.
const (
	magicCookieKey   = "LRSBRIDGE_SINK_PLUGIN"
	magicCookieValue = "d2b3b8f1-lrsbridge-sink"
	pluginName       = "sink"
)

var handshake = plugin.HandshakeConfig{
	MagicCookieKey:   magicCookieKey,
	MagicCookieValue: magicCookieValue,
}

// maxMessageSize bounds one gRPC message; a batch of large statements must
// fit.
const maxMessageSize = 64 << 20

// grpcPlugin is the go-plugin pairing of the sink protocol: the server half
// registers srv, the client half returns a remoteProvider.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	sinkpb.RegisterSinkServiceServer(s, p.srv)
	return nil
}

// GRPCClient keeps ctx, the plugin-lifetime context go-plugin cancels when
// the plugin process exits.
func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &remoteProvider{client: sinkpb.NewSinkServiceClient(c), pluginDone: ctx, exited: ctx.Done()}, nil
}

// pluginSets returns the plugins served or spoken per protocol version.
// A new protocol version is added here next to the old one, served side by
// side until hosts have moved on.
func pluginSets(srv *server) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {pluginName: &grpcPlugin{srv: srv}},
	}
}
