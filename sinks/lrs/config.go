package lrs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Defaults and limits of the configuration.
const (
	// DefaultTimeout bounds every request to the LRS when the timeout field
	// is not set: connecting, sending the batch and reading the answer.
	DefaultTimeout = 30 * time.Second
	// MinTimeout and MaxTimeout bound the timeout field.
	MinTimeout = time.Second
	MaxTimeout = 10 * time.Minute
	// DefaultMaxBatch is the largest number of statements sent in one POST
	// when the max_batch field is not set. Larger host batches are split.
	DefaultMaxBatch = 100
	// MaxMaxBatch is the largest accepted max_batch.
	MaxMaxBatch = 10000
)

// The configuration keys, as the settings form sends them.
const (
	KeyLabel              = "label"
	KeyXAPIVersion        = "xapi_version"
	KeyEndpoint           = "endpoint"
	KeyKey                = "key"
	KeySecret             = "secret"
	KeyCAFile             = "ca_file"
	KeyCAPEM              = "ca_pem"
	KeyClientCertPEM      = "client_cert_pem"
	KeyClientKeyPEM       = "client_key_pem"
	KeyClientCertFile     = "client_cert_file"
	KeyClientKeyFile      = "client_key_file"
	KeyInsecureSkipVerify = "insecure_skip_verify"
	KeyTimeout            = "timeout"
	KeyMaxBatch           = "max_batch"
)

var knownKeys = map[string]bool{
	KeyLabel: true, KeyXAPIVersion: true, KeyEndpoint: true, KeyKey: true, KeySecret: true,
	KeyCAFile: true, KeyCAPEM: true, KeyClientCertPEM: true, KeyClientKeyPEM: true,
	KeyClientCertFile: true, KeyClientKeyFile: true, KeyInsecureSkipVerify: true,
	KeyTimeout: true, KeyMaxBatch: true,
}

// Config is the typed configuration of one LRS sink instance. ParseConfig
// builds it from the opaque map of the settings form; Validate checks it.
//
// Printing a Config never shows the secret or the client key: both are
// Secrets.
type Config struct {
	// Label is the integration label (informational).
	Label string
	// Version is the xAPI version of the LRS: statements are encoded for it
	// and every request carries it in X-Experience-API-Version.
	Version xapi.Version
	// Endpoint is the xAPI endpoint of the LRS, for example
	// "https://lrs.example.com/xapi/". NormalizeEndpoint has been applied
	// by ParseConfig: it ends in "/" and has no query.
	Endpoint string
	// Key is the API key, the HTTP Basic user name.
	Key string
	// Secret is the API secret, the HTTP Basic password.
	Secret Secret
	// CAPEM holds PEM certificates trusted in addition to the system roots
	// (from ca_pem and ca_file).
	CAPEM string
	// ClientCertPEM and ClientKeyPEM are an optional client certificate for
	// mutual TLS (from the *_pem or *_file fields).
	ClientCertPEM string
	ClientKeyPEM  Secret
	// InsecureSkipVerify turns off verification of the LRS's certificate.
	// It needs insecure_skip_verify set to the boolean true; the connection
	// test reports it as a warning.
	InsecureSkipVerify bool
	// Timeout bounds each request; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxBatch is the most statements sent in one POST; DefaultMaxBatch
	// when zero.
	MaxBatch int
}

// ParseConfig reads the opaque configuration map of the settings form into a
// Config and validates it. Problems are reported together as a
// *sdk.ConfigError with one sdk.FieldError per bad field; messages never
// repeat secret values. Unknown keys are reported too, so that a mistyped
// optional field does not go unnoticed.
func ParseConfig(m map[string]any) (Config, error) {
	var (
		c    Config
		errs sdk.ConfigError
	)
	unknown := make([]string, 0)
	for k := range m {
		if !knownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs.Add(k, "unknown setting")
	}

	str := func(key string) string {
		v, ok := m[key]
		if !ok || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs.Add(key, "must be text")
			return ""
		}
		return s
	}

	c.Label = strings.TrimSpace(str(KeyLabel))
	if v := strings.TrimSpace(str(KeyXAPIVersion)); v != "" {
		ver, err := xapi.ParseVersion(v)
		if err != nil {
			errs.Add(KeyXAPIVersion, "must be 1.0.3 or 2.0.0")
		} else {
			c.Version = ver
		}
	}
	if e := strings.TrimSpace(str(KeyEndpoint)); e != "" {
		n, err := NormalizeEndpoint(e)
		if err != nil {
			errs.Add(KeyEndpoint, err.Error())
		} else {
			c.Endpoint = n
		}
	}
	c.Key = strings.TrimSpace(str(KeyKey))
	if s := str(KeySecret); s != "" {
		c.Secret = NewSecret(s)
	}

	ca := str(KeyCAPEM)
	if f := strings.TrimSpace(str(KeyCAFile)); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			errs.Add(KeyCAFile, "cannot read the file")
		} else {
			ca = strings.TrimSpace(ca + "\n" + string(b))
		}
	}
	c.CAPEM = strings.TrimSpace(ca)
	c.ClientCertPEM = strings.TrimSpace(str(KeyClientCertPEM))
	if f := strings.TrimSpace(str(KeyClientCertFile)); f != "" {
		if c.ClientCertPEM != "" {
			errs.Add(KeyClientCertFile, "set either client_cert_pem or client_cert_file, not both")
		} else if b, err := os.ReadFile(f); err != nil {
			errs.Add(KeyClientCertFile, "cannot read the file")
		} else {
			c.ClientCertPEM = strings.TrimSpace(string(b))
		}
	}
	keyPEM := strings.TrimSpace(str(KeyClientKeyPEM))
	if f := strings.TrimSpace(str(KeyClientKeyFile)); f != "" {
		if keyPEM != "" {
			errs.Add(KeyClientKeyFile, "set either client_key_pem or client_key_file, not both")
		} else if b, err := os.ReadFile(f); err != nil {
			errs.Add(KeyClientKeyFile, "cannot read the file")
		} else {
			keyPEM = strings.TrimSpace(string(b))
		}
	}
	if keyPEM != "" {
		c.ClientKeyPEM = NewSecret(keyPEM)
	}

	if v, ok := m[KeyInsecureSkipVerify]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			errs.Add(KeyInsecureSkipVerify, "must be true or false")
		}
		c.InsecureSkipVerify = b
	}

	if v, ok := m[KeyTimeout]; ok && v != nil {
		d, err := parseDuration(v)
		if err != nil {
			errs.Add(KeyTimeout, err.Error())
		} else {
			c.Timeout = d
		}
	}
	if v, ok := m[KeyMaxBatch]; ok && v != nil {
		n, err := parseCount(v)
		if err != nil {
			errs.Add(KeyMaxBatch, err.Error())
		} else {
			c.MaxBatch = n
		}
	}

	if err := c.validate(&errs); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks c and returns a *sdk.ConfigError listing every bad field,
// or nil.
func (c Config) Validate() error {
	var errs sdk.ConfigError
	return c.validate(&errs)
}

// validate adds the problems of c to errs (which may already hold problems
// found while parsing, reported first) and returns errs.Err().
func (c Config) validate(errs *sdk.ConfigError) error {
	seen := make(map[string]bool, len(errs.Fields))
	for _, f := range errs.Fields {
		seen[f.Field] = true
	}
	add := func(field, msg string) {
		if !seen[field] {
			errs.Add(field, msg)
			seen[field] = true
		}
	}
	switch c.Version {
	case xapi.V103, xapi.V200:
	case "":
		add(KeyXAPIVersion, "is required (1.0.3 or 2.0.0)")
	default:
		add(KeyXAPIVersion, "must be 1.0.3 or 2.0.0")
	}
	if c.Endpoint == "" {
		add(KeyEndpoint, "is required")
	} else if n, err := NormalizeEndpoint(c.Endpoint); err != nil {
		add(KeyEndpoint, err.Error())
	} else if n != c.Endpoint {
		add(KeyEndpoint, "is not normalized (want "+strconv.Quote(n)+")")
	}
	switch {
	case c.Key == "":
		add(KeyKey, "is required")
	case strings.ContainsRune(c.Key, ':'):
		add(KeyKey, "must not contain a colon")
	case hasControl(c.Key):
		add(KeyKey, "must not contain control characters")
	}
	if c.Secret.IsZero() {
		add(KeySecret, "is required")
	} else if hasControl(c.Secret.Reveal()) {
		add(KeySecret, "must not contain control characters")
	}
	if c.CAPEM != "" {
		if err := checkCertsPEM(c.CAPEM); err != nil {
			field := KeyCAPEM
			if seen[KeyCAFile] {
				field = KeyCAFile
			}
			add(field, err.Error())
		}
	}
	switch {
	case c.ClientCertPEM == "" && c.ClientKeyPEM.IsZero():
	case c.ClientCertPEM == "":
		add(KeyClientCertPEM, "is required with a client key")
	case c.ClientKeyPEM.IsZero():
		add(KeyClientKeyPEM, "is required with a client certificate")
	default:
		if _, err := tls.X509KeyPair([]byte(c.ClientCertPEM), []byte(c.ClientKeyPEM.Reveal())); err != nil {
			// The error of X509KeyPair does not contain key material, but
			// keep the message generic anyway.
			add(KeyClientCertPEM, "the client certificate and key do not form a valid pair")
		}
	}
	if c.Timeout != 0 && (c.Timeout < MinTimeout || c.Timeout > MaxTimeout) {
		add(KeyTimeout, fmt.Sprintf("must be between %s and %s", MinTimeout, MaxTimeout))
	}
	if c.MaxBatch < 0 || c.MaxBatch > MaxMaxBatch {
		add(KeyMaxBatch, fmt.Sprintf("must be between 1 and %d", MaxMaxBatch))
	}
	return errs.Err()
}

// timeout returns the effective request timeout.
func (c Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// maxBatch returns the effective batch size limit.
func (c Config) maxBatch() int {
	if c.MaxBatch == 0 {
		return DefaultMaxBatch
	}
	return c.MaxBatch
}

// checkPolicy checks the parts of the egress policy that can be decided from
// the configuration alone: the scheme and an endpoint host that is an IP
// address. Names are checked when they are resolved, at dial time.
func (c Config) checkPolicy(p sdk.EgressPolicy) error {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return &sdk.ConfigError{Fields: []sdk.FieldError{{Field: KeyEndpoint, Message: "is not a valid URL"}}}
	}
	var errs sdk.ConfigError
	if u.Scheme == "http" && !p.AllowHTTP {
		errs.Add(KeyEndpoint, "must use https: plain http would send the API secret unencrypted (not allowed on this server)")
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if reason, refused := refusedAddr(a, p); refused {
			errs.Add(KeyEndpoint, fmt.Sprintf("must not be %s, %s, which this server may not reach", a.Unmap(), reason))
		}
	}
	return errs.Err()
}

// NormalizeEndpoint returns the xAPI base URL for what an admin pasted: it
// trims space, removes a trailing "statements" or "about" resource (with or
// without a slash or query), and makes the path end in "/". It refuses
// schemes other than http and https, user info in the URL, fragments, and
// queries on the base URL. An error's message completes a sentence about
// the endpoint field, such as "must be an https:// URL".
func NormalizeEndpoint(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errorString("is required")
	}
	if hasControl(raw) || strings.ContainsAny(raw, " \t") {
		return "", errorString("must not contain spaces or control characters")
	}
	if strings.Contains(raw, "#") {
		return "", errorString("must not contain a fragment (#...)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errorString("is not a valid URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "https", "http":
	case "":
		return "", errorString("must start with https://")
	default:
		return "", errorString("must be an https:// URL")
	}
	if u.User != nil {
		return "", errorString("must not contain a user name or password; enter them as key and secret")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", errorString("must name a host")
	}
	if u.Opaque != "" {
		return "", errorString("is not a valid URL")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errorString("has an invalid port")
		}
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	trimmed := false
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		switch strings.ToLower(path[i+1:]) {
		case "statements", "about":
			path = strings.TrimRight(path[:i], "/")
			trimmed = true
		}
	}
	if !trimmed && (u.RawQuery != "" || u.ForceQuery) {
		return "", errorString("must not contain a query (?...)")
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	u.Host = strings.ToLower(u.Host)
	p, err := url.PathUnescape(path + "/")
	if err != nil {
		return "", errorString("is not a valid URL")
	}
	u.Path, u.RawPath = p, path+"/"
	return u.String(), nil
}

// errorString is a plain error for messages shown to admins.
type errorString string

func (e errorString) Error() string { return string(e) }

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func parseDuration(v any) (time.Duration, error) {
	switch v := v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, errorString("must be a duration such as 30s or 2m")
		}
		return d, nil
	case float64:
		if v != math.Trunc(v) || v < 0 || v > MaxTimeout.Seconds() {
			return 0, errorString(fmt.Sprintf("must be whole seconds between %d and %d", int(MinTimeout.Seconds()), int(MaxTimeout.Seconds())))
		}
		return time.Duration(v) * time.Second, nil
	case int:
		return time.Duration(v) * time.Second, nil
	case json.Number:
		return parseDuration(string(v) + "s")
	}
	return 0, errorString("must be a duration such as 30s or 2m")
}

func parseCount(v any) (int, error) {
	bad := errorString(fmt.Sprintf("must be a whole number between 1 and %d", MaxMaxBatch))
	switch v := v.(type) {
	case float64:
		if v != math.Trunc(v) || v < 1 || v > MaxMaxBatch {
			return 0, bad
		}
		return int(v), nil
	case int:
		if v < 1 || v > MaxMaxBatch {
			return 0, bad
		}
		return v, nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > MaxMaxBatch {
			return 0, bad
		}
		return n, nil
	case json.Number:
		return parseCount(string(v))
	}
	return 0, bad
}

// checkCertsPEM reports whether s holds at least one PEM certificate and
// nothing that fails to parse.
func checkCertsPEM(s string) error {
	rest := []byte(s)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return errorString("holds a certificate that cannot be parsed")
		}
		n++
	}
	if n == 0 {
		return errorString("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}
