package sdk

// ProtocolVersion is the version of the sink wire protocol
// (sdk/proto/sink/v1/sink.proto) this package serves and speaks. It is
// negotiated in the plugin handshake: a host and a plugin that share no
// version refuse to talk instead of misunderstanding each other.
const ProtocolVersion = 1
