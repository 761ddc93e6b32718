// Package lrs is the generic xAPI LRS sink of lrsbridge: it delivers
// statements to any conformant Learning Record Store (xAPI 1.0.3 or 2.0)
// over its statements resource with HTTP Basic credentials, OAuth 2.0
// client credentials or a static bearer token. The plugin
// binary in plugins/lrs serves it; the package is a plain library, testable
// without a process, and package lrstest next to it is an in-memory LRS to
// test against.
//
// # Configuration
//
// An instance is configured from the opaque map of LearningFlow's settings
// form, decoded with sdk.DecodeConfig (see ParseConfig and the Key...
// constants): label, xapi_version ("1.0.3" or "2.0.0"), endpoint, the
// credentials of the auth mode, and optionally ca_pem or ca_file
// (certificates trusted in addition to the system roots), client_cert_pem
// and client_key_pem (or the _file variants) for mutual TLS,
// insecure_skip_verify (true turns certificate verification off), timeout
// (a duration such as "30s", default DefaultTimeout, between MinTimeout and
// MaxTimeout) and max_batch (the most statements per request, default
// DefaultMaxBatch). Unknown keys are errors. Problems are reported as a
// *sdk.ConfigError, one field at a time. Files are read with
// sdk.ReadSettingFile: regular files of at most 1 MiB, one answer for every
// failure. The secrets are Secrets: they print as "[redacted]" everywhere
// and never appear in errors, logs or reports.
//
// # Authentication
//
// The auth setting chooses the mode: "basic" (the default) sends key and
// secret as HTTP Basic credentials; "oauth2" gets a bearer token from
// oauth_endpoint (the token URL) with the client credentials grant
// (client_id, client_secret, scopes as a list or one space-separated text),
// caches it until shortly before it expires, and on a 401 from the LRS
// fetches a new one and retries once; "bearer" sends bearer_token. The
// token endpoint is reached with the same HTTP client as the LRS, so through
// the same egress policy. A token endpoint that rejects the client id or
// secret makes Deliver fail with a *TokenError classified
// sdk.Unauthenticated (the host pauses the integration). When an LRS echoes
// the request in an error body, every form of the secrets (the values, the
// Basic value, base64 and URL-escaped forms, the current access token, in
// any letter case) is redacted before anything of it reaches an error or a
// report, and excerpts are kept short.
//
// The endpoint is normalized (NormalizeEndpoint): a pasted .../statements or
// .../about URL is trimmed to the xAPI base and a trailing slash is added.
//
// # Delivery
//
// Every request carries X-Experience-API-Version with the configured
// version, Basic credentials, and Content-Type application/json. The sink
// reports its version to the host (sdk.VersionReporter) so that statements
// arrive encoded for it; as a defence, a statement carrying the 2.0-only
// contextAgents or contextGroups is re-encoded for 1.0.3 before it goes to a
// 1.0.3 LRS. See Sink.Deliver for how each answer of the LRS becomes a
// verdict: 400 and 409 are bisected down to the offending statements, 413
// splits the batch and teaches the sink a body size limit, 429 and 503 honour
// Retry-After, 401 and 403 are authentication classes, 5xx and network
// errors are retryable. Redirects are not followed.
//
// Each request is bounded by the timeout; response bodies are read up to
// a limit, then drained and closed so that connections are reused. LRS
// messages put into verdicts are stripped of control characters and
// truncated.
//
// # TLS
//
// Certificates are verified against the system roots (plus the configured
// CA bundle); TLS 1.2 is the minimum. Turning verification off needs
// insecure_skip_verify: true, and the connection test reports it as a
// warning.
//
// # Egress policy
//
// The endpoint is typed in by an organization admin but dialled from inside
// LearningFlow's network, so the sink applies the host operator's
// sdk.EgressPolicy: loopback, private (RFC 1918, IPv6 unique local),
// link-local, carrier-grade NAT, unspecified, multicast, reserved,
// documentation and cloud metadata addresses (169.254.169.254,
// fd00:ec2::254, 100.100.100.200, ...) are refused unless inside
// AllowCIDRs, and plain http:// endpoints are refused unless AllowHTTP.
// The policy is applied by sdk.EgressDialer (see sdk.EgressPolicy.Refuses
// for the address forms). Literal addresses are checked
// when the instance is configured; names are resolved by the sink at dial
// time, every resolved address is checked (one refused address refuses the
// name), and the connection goes to a checked address literal, so DNS
// rebinding cannot slip a refused address in between. A refusal is an
// *sdk.EgressError naming the address and why; it is retryable, since DNS
// answers and policies change.
//
// Proxies come from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, as
// http.ProxyFromEnvironment reads them). The proxy is chosen by the host
// operator, so connections to it are not checked against the policy. The
// endpoint's host is still resolved and checked when a proxy is used, but
// the proxy resolves the name again itself: against DNS rebinding, an
// operator who routes LRS traffic through a proxy must make the proxy
// enforce the same rules. Requests to loopback endpoints are never proxied.
//
// # Connection test
//
// Sink.TestConnection checks the address and policy, DNS, TCP connect,
// TLS, the OAuth 2.0 token (auth oauth2), GET about (is the configured version supported?) and an
// authenticated GET statements?limit=1, each step timed and explained in
// words an organization admin understands. It never writes to the LRS.
package lrs
