package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
)

// server is the plugin side of the protocol: it serves one Provider and
// keeps the instances it configured, by handle.
type server struct {
	sinkpb.UnimplementedSinkServiceServer

	provider Provider
	logger   *slog.Logger

	mu        sync.RWMutex
	instances map[string]*instance
}

// instance is one configured sink. Its lock is held for reading by every
// call in progress and for writing by close, so that no call starts on a
// closed sink and close waits for calls in progress.
type instance struct {
	mu     sync.RWMutex
	sink   Sink
	closed bool
}

func newServer(p Provider, logger *slog.Logger) *server {
	return &server{provider: p, logger: logger, instances: make(map[string]*instance)}
}

// recovered turns a panic of sink code into an error wrapping
// ErrSinkPanicked. It is deferred by every call into the sink.
func (s *server) recovered(op, handle string, err *error) {
	if r := recover(); r != nil {
		s.logger.Error("sink panicked", "op", op, "instance", handle, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = fmt.Errorf("%s instance %q: %w: %v", op, handle, ErrSinkPanicked, r)
	}
}

func (s *server) configure(ctx context.Context, req ConfigureRequest) (sink Sink, err error) {
	defer s.recovered("configure", req.Instance, &err)
	sink, err = s.provider.Configure(ctx, req)
	if err == nil && sink == nil {
		err = fmt.Errorf("configure instance %q: provider returned no sink and no error", req.Instance)
	}
	return sink, err
}

func (s *server) Configure(ctx context.Context, pb *sinkpb.ConfigureRequest) (*sinkpb.ConfigureResponse, error) {
	req, err := configureFromProto(pb)
	if err != nil {
		return nil, errorToStatus(err)
	}
	sink, err := s.configure(ctx, req)
	if err != nil {
		return nil, errorToStatus(err)
	}
	resp := &sinkpb.ConfigureResponse{Capabilities: &sinkpb.Capabilities{}}
	if _, ok := sink.(ConnectionTester); ok {
		resp.Capabilities.ConnectionTester = true
	}
	if vr, ok := sink.(VersionReporter); ok {
		resp.Capabilities.VersionReporter = true
		if resp.XapiVersion, err = s.version(vr, req.Instance); err != nil {
			_ = s.closeSink(ctx, req.Instance, sink)
			return nil, errorToStatus(err)
		}
	}

	s.mu.Lock()
	old := s.instances[req.Instance]
	s.instances[req.Instance] = &instance{sink: sink}
	s.mu.Unlock()
	if old != nil {
		if err := s.closeInstance(ctx, req.Instance, old); err != nil {
			s.logger.Warn("closing replaced sink instance failed", "instance", req.Instance, "error", err)
		}
	}
	return resp, nil
}

func (s *server) version(vr VersionReporter, handle string) (v string, err error) {
	defer s.recovered("xapi version of", handle, &err)
	return string(vr.XAPIVersion()), nil
}

func (s *server) lookup(handle string) (*instance, error) {
	s.mu.RLock()
	inst := s.instances[handle]
	s.mu.RUnlock()
	if inst == nil {
		return nil, fmt.Errorf("instance %q: %w", handle, ErrUnknownInstance)
	}
	return inst, nil
}

// acquire looks up an instance and read-locks it; release with
// inst.mu.RUnlock.
func (s *server) acquire(handle string) (*instance, error) {
	inst, err := s.lookup(handle)
	if err != nil {
		return nil, err
	}
	inst.mu.RLock()
	if inst.closed {
		inst.mu.RUnlock()
		return nil, fmt.Errorf("instance %q: %w", handle, ErrUnknownInstance)
	}
	return inst, nil
}

func (s *server) Deliver(ctx context.Context, pb *sinkpb.DeliverRequest) (*sinkpb.DeliverResponse, error) {
	inst, err := s.acquire(pb.GetInstance())
	if err != nil {
		return nil, errorToStatus(err)
	}
	defer inst.mu.RUnlock()
	req := DeliverRequest{Statements: statementsFromProto(pb.GetStatements())}
	resp, err := s.deliver(ctx, pb.GetInstance(), inst.sink, req)
	if err != nil {
		return nil, errorToStatus(err)
	}
	if n := len(resp.Verdicts); n != 0 && n != len(req.Statements) {
		err := fmt.Errorf("deliver instance %q: sink returned %d verdicts for %d statements", pb.GetInstance(), n, len(req.Statements))
		return nil, errorToStatus(err)
	}
	return &sinkpb.DeliverResponse{Verdicts: verdictsToProto(resp.Verdicts)}, nil
}

func (s *server) deliver(ctx context.Context, handle string, sink Sink, req DeliverRequest) (resp DeliverResponse, err error) {
	defer s.recovered("deliver", handle, &err)
	return sink.Deliver(ctx, req)
}

func (s *server) TestConnection(ctx context.Context, pb *sinkpb.TestConnectionRequest) (*sinkpb.TestConnectionResponse, error) {
	inst, err := s.acquire(pb.GetInstance())
	if err != nil {
		return nil, errorToStatus(err)
	}
	defer inst.mu.RUnlock()
	tester, ok := inst.sink.(ConnectionTester)
	if !ok {
		return nil, errorToStatus(Permanent(fmt.Errorf("instance %q cannot test its connection", pb.GetInstance())))
	}
	report, err := s.testConnection(ctx, pb.GetInstance(), tester)
	if err != nil {
		return nil, errorToStatus(err)
	}
	return reportToProto(report), nil
}

func (s *server) testConnection(ctx context.Context, handle string, t ConnectionTester) (r Report, err error) {
	defer s.recovered("test connection of", handle, &err)
	return t.TestConnection(ctx)
}

func (s *server) Close(ctx context.Context, pb *sinkpb.CloseRequest) (*sinkpb.CloseResponse, error) {
	s.mu.Lock()
	inst := s.instances[pb.GetInstance()]
	delete(s.instances, pb.GetInstance())
	s.mu.Unlock()
	if inst == nil {
		return &sinkpb.CloseResponse{}, nil
	}
	if err := s.closeInstance(ctx, pb.GetInstance(), inst); err != nil {
		return nil, errorToStatus(err)
	}
	return &sinkpb.CloseResponse{}, nil
}

// closeInstance waits for the calls in progress on inst and closes its sink.
func (s *server) closeInstance(ctx context.Context, handle string, inst *instance) error {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.closed {
		return nil
	}
	inst.closed = true
	return s.closeSink(ctx, handle, inst.sink)
}

func (s *server) closeSink(ctx context.Context, handle string, sink Sink) (err error) {
	defer s.recovered("close", handle, &err)
	return sink.Close(ctx)
}

// closeAll closes every instance; the plugin is shutting down.
func (s *server) closeAll(ctx context.Context) {
	s.mu.Lock()
	insts := s.instances
	s.instances = make(map[string]*instance)
	s.mu.Unlock()
	for h, inst := range insts {
		if err := s.closeInstance(ctx, h, inst); err != nil {
			s.logger.Warn("closing sink instance at shutdown failed", "instance", h, "error", err)
		}
	}
}
