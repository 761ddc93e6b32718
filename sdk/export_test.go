package sdk

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
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

// LaunchStep is one step of a launch and how long it took.
type LaunchStep struct {
	Name string
	Took time.Duration
}

// LaunchSteps starts the plugin at path through l as Launch does, step by
// step, and says how long each step took. It is for BenchmarkLaunchSteps.
func LaunchSteps(l *Launcher, path string, sum []byte) (steps []LaunchStep, kill func(), err error) {
	last := time.Now()
	step := func(name string) {
		now := time.Now()
		steps = append(steps, LaunchStep{name, now.Sub(last)})
		last = now
	}
	exe, err := l.execs.prepare(path, sum)
	if err != nil {
		return nil, nil, err
	}
	defer exe.close()
	step("check-binary")
	id, err := l.hostIdentity()
	if err != nil {
		return nil, nil, err
	}
	step("host-identity")
	// Made here one step after the other, to be timed; Launch makes the
	// plugin's keys while the process starts.
	mtls := startLaunchTLS(id)
	if _, err := mtls.wait(); err != nil {
		return nil, nil, err
	}
	step("plugin-keys")
	run := &procRunner{name: path, env: []string{"PLUGIN_CLIENT_CERT=" + string(mtls.cert)}, exe: exe, tls: mtls}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogger(slog.New(slog.DiscardHandler), "plugin"),
		SkipHostEnv:      true,
		TLSConfig:        mtls.host,
		RunnerFunc: func(_ hclog.Logger, cmd *exec.Cmd, socketDir string) (runner.Runner, error) {
			return run.bind(cmd, socketDir), nil
		},
	})
	if _, err := client.Start(); err != nil {
		client.Kill()
		return nil, nil, err
	}
	step("exec-to-handshake")
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, nil, err
	}
	step("grpc-connect")
	if _, err := rpc.Dispense(pluginName); err != nil {
		client.Kill()
		return nil, nil, err
	}
	step("dispense")
	return steps, client.Kill, nil
}

// NewEd25519Launcher returns a Launcher whose certificates have Ed25519
// keys, as Launch made them per launch before it used P-256. It is a
// baseline of BenchmarkLaunch.
func NewEd25519Launcher() *Launcher {
	return &Launcher{newKey: func() (crypto.Signer, error) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	}}
}
