package sdk

import (
	"context"
	"log/slog"
	"os/exec"

	"github.com/hashicorp/go-plugin"
)

// LaunchAutoMTLS starts the plugin at path the way Launch did before it made
// its own certificates: go-plugin's runner and AutoMTLS. It is the baseline
// of BenchmarkLaunch.
func LaunchAutoMTLS(ctx context.Context, path string) (kill func(), err error) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogger(slog.New(slog.DiscardHandler), "plugin"),
		Cmd:              exec.CommandContext(ctx, path),
		SkipHostEnv:      true,
		AutoMTLS:         true,
	})
	rpc, err := client.Client()
	if err == nil {
		_, err = rpc.Dispense(pluginName)
	}
	if err != nil {
		client.Kill()
		return nil, err
	}
	return client.Kill, nil
}
