// Package sdk is what the author of an lrsbridge sink plugin works with: the
// [Sink] and [Provider] contract in plain Go types, the error classes that
// tell the host what to do about a failure, and [Serve], the whole main of a
// plugin.
//
// # Writing a sink
//
// A [Provider] turns an opaque configuration map into a [Sink] instance. The
// host may configure many instances in one plugin process (one per
// organization integration), each addressed by the Instance handle of its
// [ConfigureRequest]. A Sink delivers batches of statements and returns one
// [Verdict] per statement. Optional capabilities are optional interfaces:
// [ConnectionTester] for a structured connection test and [VersionReporter]
// for sinks that want statements encoded for xAPI 2.0.
//
// # Configuration and egress
//
// [DecodeConfig] reads the configuration map into a struct with `config`
// tags (text, numbers, booleans, durations, [ByteSize], lists, defaults),
// reporting unknown keys and every bad value as a *[ConfigError]. Settings
// that name local files are read with [ReadSettingFile] (bounded in size and
// kind, one answer for every failure) and checked with [CheckSettingPath].
//
// An endpoint entered by an organization is reached through the host
// operator's [EgressPolicy]: [EgressPolicy.Client] is an HTTP client that
// applies it to every resolved address at connect time, to every redirect
// and to the host behind a proxy; [NewEgressDialer] gives the dialer and
// transport to tune. Refusals are *[EgressError] values naming the address
// and the reason.
//
// # Errors
//
// Wrap errors with [Permanent], [RetryAfter], [Unauthenticated] or
// [Forbidden]; an unclassified error is retryable. Invalid configuration is a
// *[ConfigError]. Classes, retry delays and configuration field errors
// survive the plugin boundary; check them with [IsPermanent], [RetryDelay],
// [IsAuth], [ClassOf] and errors.As.
//
// # Serving and launching
//
// A plugin's main calls [Serve]. Plugins log through [Logger], which writes
// JSON lines to stderr that the host re-levels into its own logger; the
// plugin must not write to stdout, and Serve takes care that a stray print
// does not break the handshake. The host side starts plugins with [Launch]
// and talks to them through the [Provider] of the returned [Process]; the
// sinks it configures there implement [ConnectionTester] and
// [VersionReporter] exactly when the plugin's sinks do.
//
// # Plugin processes
//
// Host and plugin talk over a mutually authenticated TLS connection: the
// host makes an ECDSA P-256 certificate for itself (once per [Launcher])
// and one for the plugin per launch, whose key reaches the plugin over its
// standard input, and each side accepts only the other's certificate.
// (go-plugin's AutoMTLS made ECDSA P-521 certificates on both sides, one
// after the other, which cost most of a plugin's start.) A [Launcher] also
// keeps the verified copy of a checksummed binary for its next launches. The plugin's standard input stays a pipe from
// the host: when the host ends, however it ends, the plugin sees it close,
// and on Linux also gets the parent-death signal, and exits after closing
// its sinks, so no plugin outlives its host or keeps a lock a restarted
// host needs. With a checksum, Launch runs exactly the bytes it verified
// (see [LaunchConfig].SHA256); a missing or mismatching binary is a
// [*BinaryError], which retrying does not heal. A plugin's log lines and
// prints reach the host's logger at a bounded rate ([LogLimit]), with a
// count of the lines held back.
//
// The wire protocol is the gRPC service in sdk/proto/sink/v1/sink.proto,
// versioned through the plugin handshake; [ProtocolVersion] is the version
// this package speaks.
//
// The package sdk/sinktest checks a sink against this contract, directly and
// across a real gRPC connection.
//
// Traces: when the host delivers under a sampled span, a sink's own spans
// join the host's trace with no setup in the plugin; start them from the
// call's context with [Tracer]. They travel back with the call's response
// and the host exports them.
package sdk
