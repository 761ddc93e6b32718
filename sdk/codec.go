package sdk

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// batchCodec is the protobuf codec of both ends of the plugin connection.
// It encodes and decodes as gRPC's own "proto" codec does (the wire is the
// same, so a plugin or host using gRPC's codec talks to it unchanged), but
// into buffers of bufferPool instead of gRPC's default pool, which goes
// from 32 KiB buffers straight to 1 MiB ones: each batch of a hundred
// statements (80-100 KiB) took a 1 MiB buffer, zeroed before use and often
// newly allocated, and clearing memory was close to half of what
// delivery cost the host's CPU. It is set on the plugin connection only
// (grpc.ForceCodecV2, grpc.ForceServerCodecV2), never registered for the
// process, so the embedding application's own gRPC is not affected.
type batchCodec struct{}

var _ encoding.CodecV2 = batchCodec{}

// bufferPool holds buffers in every power of two from 256 bytes to 1 MiB,
// so that a message wastes at most half of its buffer; larger messages are
// allocated as they come.
var bufferPool = func() mem.BufferPool {
	p, err := mem.NewBinaryTieredBufferPool(8, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	if err != nil {
		panic("sdk: gRPC buffer pool: " + err.Error()) // the sizes above are valid
	}
	return p
}()

// Name is the content subtype, the same as gRPC's codec's.
func (batchCodec) Name() string { return "proto" }

// Marshal encodes v, a protobuf message.
func (batchCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("sdk: encode %T: not a protobuf message", v)
	}
	size := proto.Size(m)
	// Safe: the size was computed just above and the message does not
	// change meanwhile.
	opts := proto.MarshalOptions{UseCachedSize: true}
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := bufferPool.Get(size)
	b, err := opts.MarshalAppend((*buf)[:0], m)
	if err != nil {
		bufferPool.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, bufferPool)}, nil
}

// Unmarshal decodes data into v, a protobuf message. The message keeps no
// reference to data.
func (batchCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("sdk: decode into %T: not a protobuf message", v)
	}
	buf := data.MaterializeToBuffer(bufferPool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// connOptions are the host side's codec and buffer options for the plugin
// connection.
func connOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(batchCodec{})),
		experimental.WithBufferPool(bufferPool),
	}
}
