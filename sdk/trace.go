package sdk

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
)

// Tracing over the plugin connection (see the end of
// sdk/proto/sink/v1/sink.proto):
//
//   - The host side injects the W3C trace context of the call's context
//     into the request metadata, and re-creates in the host's tracing the
//     spans the plugin sends back in the trailer spansTrailer.
//   - The plugin side extracts the trace context, serves the call under a
//     server span of a TracerProvider that Serve made, collects the spans
//     that finish under it while the call runs, and sends them back.
//
// The plugin exports nothing itself: its spans reach the host's exporters
// with no configuration in the plugin.

// spansTrailer is the binary trailer that carries a sinkpb.SpanBatch.
const spansTrailer = "lrsbridge-spans-bin"

// Bounds on the spans of one call, plugin side and host side.
const (
	maxCallSpans      = 128
	maxCallSpansBytes = 64 << 10
	maxSpanAttributes = 64
	maxSpanEvents     = 32
	maxAttributeLen   = 1024
)

// traceScope is the instrumentation scope of the spans the SDK makes.
const traceScope = "github.com/learningflow/lrsbridge/sdk"

// traceContext is the propagator on the plugin connection: W3C trace
// context only, whatever the process-wide propagator is.
var traceContext = propagation.TraceContext{}

// Tracer returns a tracer whose spans join the host's trace when started
// from ctx (or a context derived from it) inside a call of the host, for
// example in [Sink.Deliver]:
//
//	ctx, span := sdk.Tracer(ctx, "example.com/mysink").Start(ctx, "post statements")
//	defer span.End()
//
// In a plugin process served by [Serve] the spans travel back to the host
// with the call's response; nothing is exported from the plugin. Outside a
// traced call the tracer records nothing. In a plugin process
// otel.Tracer(name) works as well: Serve installs the same provider as the
// process's global one (except in test mode).
func Tracer(ctx context.Context, name string) trace.Tracer {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(name)
}

// metadataCarrier adapts gRPC metadata to the propagation API.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// dialOptions are the host side's options for the plugin connection:
// tracing, the codec and the buffer pool.
func dialOptions() []grpc.DialOption {
	return append(connOptions(), grpc.WithChainUnaryInterceptor(traceClientInterceptor))
}

// traceClientInterceptor sends the trace context of ctx with the call and
// re-creates the spans the plugin sends back under the span of ctx.
func traceClientInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	md := metadata.MD{}
	traceContext.Inject(ctx, metadataCarrier(md))
	kv := make([]string, 0, 2*len(md))
	for k, vs := range md {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	var trailer metadata.MD
	err := invoker(metadata.AppendToOutgoingContext(ctx, kv...), method, req, reply, cc, append(opts, grpc.Trailer(&trailer))...)
	if v := trailer.Get(spansTrailer); len(v) > 0 && span.IsRecording() {
		replaySpans(ctx, span, []byte(v[0]))
	}
	return err
}

// pluginTracing is the plugin side: a TracerProvider whose sampled spans
// are collected per call and sent back to the host.
type pluginTracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// newPluginTracing makes the plugin's TracerProvider. It samples a span
// only when the host's span of the call is sampled, so an untraced host
// costs the plugin nothing. global also installs it, and the W3C
// propagator, as the process's global ones: for a plugin process, not for
// a plugin served in test mode inside someone else's process.
func newPluginTracing(global bool) *pluginTracing {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		sdktrace.WithSpanProcessor(&collectProcessor{}),
	)
	if global {
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(traceContext)
	}
	return &pluginTracing{tp: tp, tracer: tp.Tracer(traceScope)}
}

// serverOption is the plugin side's option for the gRPC server.
func (pt *pluginTracing) serverOption() grpc.ServerOption {
	return grpc.ChainUnaryInterceptor(pt.intercept)
}

// collectorKey is the context key of the *spanCollector of a call.
type collectorKey struct{}

func (pt *pluginTracing) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	ctx = traceContext.Extract(ctx, metadataCarrier(md))
	if sc := trace.SpanContextFromContext(ctx); !sc.IsValid() || !sc.IsSampled() {
		return handler(ctx, req)
	}
	col := &spanCollector{}
	ctx = context.WithValue(ctx, collectorKey{}, col)
	ctx, span := pt.tracer.Start(ctx, info.FullMethod, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", "grpc"), attribute.String("rpc.method", info.FullMethod)))
	resp, err := handler(ctx, req)
	if err != nil {
		// The code only: a status message can quote an LRS's answer.
		span.SetStatus(codes.Error, status.Code(err).String())
	}
	span.End()
	if b := col.finish(); b != nil {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(spansTrailer, string(b)))
	}
	return resp, err
}

// collectProcessor hands every span started under a call's context to that
// call's collector when it ends.
type collectProcessor struct {
	pending sync.Map // trace.SpanID -> *spanCollector
}

var _ sdktrace.SpanProcessor = (*collectProcessor)(nil)

func (p *collectProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if col, ok := parent.Value(collectorKey{}).(*spanCollector); ok {
		p.pending.Store(s.SpanContext().SpanID(), col)
	}
}

func (p *collectProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if col, ok := p.pending.LoadAndDelete(s.SpanContext().SpanID()); ok {
		col.(*spanCollector).add(s)
	}
}

func (p *collectProcessor) Shutdown(context.Context) error   { return nil }
func (p *collectProcessor) ForceFlush(context.Context) error { return nil }

// spanCollector gathers the spans of one call, within the bounds.
type spanCollector struct {
	mu      sync.Mutex
	batch   sinkpb.SpanBatch
	size    int
	done    bool
	dropped uint32
}

func (c *spanCollector) add(s sdktrace.ReadOnlySpan) {
	pb := spanToProto(s)
	n := proto.Size(pb)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.done:
		// Ended after the call returned: the host has its answer.
	case len(c.batch.Spans) >= maxCallSpans || c.size+n > maxCallSpansBytes:
		c.dropped++
	default:
		c.batch.Spans = append(c.batch.Spans, pb)
		c.size += n
	}
}

// finish closes the collector and returns the encoded batch, or nil if
// there is nothing to send.
func (c *spanCollector) finish() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	if len(c.batch.Spans) == 0 && c.dropped == 0 {
		return nil
	}
	c.batch.Dropped = c.dropped
	b, err := proto.Marshal(&c.batch)
	if err != nil {
		return nil
	}
	return b
}
