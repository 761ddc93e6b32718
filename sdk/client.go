package sdk

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// exitGrace bounds how long a failed call waits for the plugin process to be
// reported gone before it returns the failure as retryable. A killed process
// is reported within milliseconds; the bound only matters when the
// connection broke but the process lives on.
const exitGrace = 2 * time.Second

// remoteProvider is the host side of the protocol: a Provider whose sinks
// live in a plugin process.
type remoteProvider struct {
	client sinkpb.SinkServiceClient
	// pluginDone is the plugin-lifetime context go-plugin handed to
	// GRPCClient; it is done when the process has exited.
	pluginDone context.Context
	// exited is closed when the plugin process is gone (or, for a process
	// attached in test mode, was killed by the host).
	exited <-chan struct{}
}

var _ Provider = (*remoteProvider)(nil)

func (p *remoteProvider) gone() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// callError turns the failure of a call into the error returned to the host.
func (p *remoteProvider) callError(ctx context.Context, op, handle string, err error) error {
	if e, ok := errorFromStatus(err); ok {
		return fmt.Errorf("sdk: %s instance %q: %w", op, handle, e)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sdk: %s instance %q: %w", op, handle, ctx.Err())
	}
	// The call failed in transport or in gRPC itself. If the process is
	// gone (or going), say so; the connection usually breaks a moment
	// before go-plugin notices the exit.
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-p.exited:
		return fmt.Errorf("sdk: %s instance %q: %w", op, handle, ErrPluginExited)
	case <-t.C:
	case <-ctx.Done():
	}
	return fmt.Errorf("sdk: %s instance %q: %w", op, handle, err)
}

func (p *remoteProvider) exitedError(op, handle string) error {
	return fmt.Errorf("sdk: %s instance %q: %w", op, handle, ErrPluginExited)
}

func (p *remoteProvider) Configure(ctx context.Context, req ConfigureRequest) (Sink, error) {
	if p.gone() {
		return nil, p.exitedError("configure", req.Instance)
	}
	pb, err := configureToProto(req)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Configure(ctx, pb)
	if err != nil {
		return nil, p.callError(ctx, "configure", req.Instance, err)
	}
	rs := &remoteSink{p: p, handle: req.Instance}
	caps := resp.GetCapabilities()
	switch {
	case caps.GetConnectionTester() && caps.GetVersionReporter():
		return &remoteTesterVersionSink{remoteTesterSink{rs}, remoteVersion{versionFromProto(resp.GetXapiVersion())}}, nil
	case caps.GetConnectionTester():
		return &remoteTesterSink{rs}, nil
	case caps.GetVersionReporter():
		return &remoteVersionSink{rs, remoteVersion{versionFromProto(resp.GetXapiVersion())}}, nil
	}
	return rs, nil
}

// remoteSink is a Sink instance in a plugin process, addressed by handle.
type remoteSink struct {
	p      *remoteProvider
	handle string
	closed atomic.Bool
}

var _ Sink = (*remoteSink)(nil)

func (s *remoteSink) Deliver(ctx context.Context, req DeliverRequest) (DeliverResponse, error) {
	if s.closed.Load() {
		return DeliverResponse{}, fmt.Errorf("sdk: deliver instance %q: sink closed: %w", s.handle, ErrUnknownInstance)
	}
	if s.p.gone() {
		return DeliverResponse{}, s.p.exitedError("deliver", s.handle)
	}
	resp, err := s.p.client.Deliver(ctx, &sinkpb.DeliverRequest{
		Instance:   s.handle,
		Statements: statementsToProto(req.Statements),
	})
	if err != nil {
		return DeliverResponse{}, s.p.callError(ctx, "deliver", s.handle, err)
	}
	vs := verdictsFromProto(resp.GetVerdicts())
	if len(vs) != 0 && len(vs) != len(req.Statements) {
		return DeliverResponse{}, fmt.Errorf("sdk: deliver instance %q: plugin returned %d verdicts for %d statements", s.handle, len(vs), len(req.Statements))
	}
	return DeliverResponse{Verdicts: vs}, nil
}

// Close closes the instance in the plugin process. It is idempotent, and it
// succeeds if the process has exited: nothing is left to close.
func (s *remoteSink) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) || s.p.gone() {
		return nil
	}
	if _, err := s.p.client.Close(ctx, &sinkpb.CloseRequest{Instance: s.handle}); err != nil {
		err = s.p.callError(ctx, "close", s.handle, err)
		if errorsIsExited(err) {
			return nil
		}
		return err
	}
	return nil
}

func (s *remoteSink) testConnection(ctx context.Context) (Report, error) {
	if s.closed.Load() {
		return Report{}, fmt.Errorf("sdk: test connection of instance %q: sink closed: %w", s.handle, ErrUnknownInstance)
	}
	if s.p.gone() {
		return Report{}, s.p.exitedError("test connection of", s.handle)
	}
	resp, err := s.p.client.TestConnection(ctx, &sinkpb.TestConnectionRequest{Instance: s.handle})
	if err != nil {
		return Report{}, s.p.callError(ctx, "test connection of", s.handle, err)
	}
	return reportFromProto(resp), nil
}

// The combinations of optional interfaces a remote sink may implement: the
// host discovers them by type assertion, so a remote sink implements exactly
// those its plugin-side sink does.

type remoteTesterSink struct{ *remoteSink }

func (s remoteTesterSink) TestConnection(ctx context.Context) (Report, error) {
	return s.testConnection(ctx)
}

type remoteVersion struct{ v xapi.Version }

func (v remoteVersion) XAPIVersion() xapi.Version { return v.v }

type remoteVersionSink struct {
	*remoteSink
	remoteVersion
}

type remoteTesterVersionSink struct {
	remoteTesterSink
	remoteVersion
}

var (
	_ ConnectionTester = (*remoteTesterSink)(nil)
	_ VersionReporter  = (*remoteVersionSink)(nil)
	_ ConnectionTester = (*remoteTesterVersionSink)(nil)
	_ VersionReporter  = (*remoteTesterVersionSink)(nil)
)
