package lrs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
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
	KeyAuth               = "auth"
	KeyOAuthEndpoint      = "oauth_endpoint"
	KeyClientID           = "client_id"
	KeyClientSecret       = "client_secret"
	KeyScopes             = "scopes"
	KeyBearerToken        = "bearer_token"
)

// The authentication modes of the auth setting.
const (
	// AuthBasic sends the key and secret as HTTP Basic credentials (the
	// default).
	AuthBasic = "basic"
	// AuthOAuth2 gets a bearer token from oauth_endpoint with the OAuth 2.0
	// client credentials grant (client_id, client_secret, scopes).
	AuthOAuth2 = "oauth2"
	// AuthBearer sends bearer_token as a static bearer token.
	AuthBearer = "bearer"
)

// settings is the configuration map as DecodeConfig reads it.
type settings struct {
	Label              string        `config:"label"`
	XAPIVersion        string        `config:"xapi_version"`
	Endpoint           string        `config:"endpoint"`
	Auth               string        `config:"auth"`
	Key                string        `config:"key"`
	Secret             string        `config:"secret"`
	OAuthEndpoint      string        `config:"oauth_endpoint"`
	ClientID           string        `config:"client_id"`
	ClientSecret       string        `config:"client_secret"`
	Scopes             []string      `config:"scopes"`
	BearerToken        string        `config:"bearer_token"`
	CAFile             string        `config:"ca_file"`
	CAPEM              string        `config:"ca_pem"`
	ClientCertPEM      string        `config:"client_cert_pem"`
	ClientKeyPEM       string        `config:"client_key_pem"`
	ClientCertFile     string        `config:"client_cert_file"`
	ClientKeyFile      string        `config:"client_key_file"`
	InsecureSkipVerify bool          `config:"insecure_skip_verify"`
	Timeout            time.Duration `config:"timeout"`
	MaxBatch           int           `config:"max_batch"`
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
	// Auth is the authentication mode: AuthBasic (also when empty),
	// AuthOAuth2 or AuthBearer.
	Auth string
	// Key is the API key, the HTTP Basic user name (AuthBasic).
	Key string
	// Secret is the API secret, the HTTP Basic password (AuthBasic).
	Secret Secret
	// OAuthEndpoint is the token URL of the OAuth 2.0 authorization server
	// (AuthOAuth2). It goes through the same egress policy as the LRS.
	OAuthEndpoint string
	// ClientID and ClientSecret are the OAuth 2.0 client credentials
	// (AuthOAuth2).
	ClientID     string
	ClientSecret Secret
	// Scopes are the OAuth 2.0 scopes to ask for (AuthOAuth2); none when
	// empty.
	Scopes []string
	// BearerToken is a static bearer token (AuthBearer).
	BearerToken Secret
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
// Config and validates it. It decodes with sdk.DecodeConfig: text, numbers
// and booleans may come as text, timeout as a duration ("45s") or seconds,
// scopes as a list or one space-separated text. Files named by ca_file,
// client_cert_file and client_key_file are read bounded in size and kind
// (sdk.ReadSettingFile), and a file that cannot be used gets one message
// whatever the reason, so the answer reveals nothing about local files.
// Problems are reported together as a *sdk.ConfigError with one
// sdk.FieldError per bad field; messages never repeat secret values.
// Unknown keys are reported too, so that a mistyped optional field does not
// go unnoticed.
func ParseConfig(m map[string]any) (Config, error) {
	var (
		raw  settings
		c    Config
		errs sdk.ConfigError
	)
	if err := sdk.DecodeConfig(m, &raw); err != nil {
		var ce *sdk.ConfigError
		if errors.As(err, &ce) {
			errs.Fields = append(errs.Fields, ce.Fields...)
		}
	}
	bad := func(key string) bool {
		return slices.ContainsFunc(errs.Fields, func(f sdk.FieldError) bool { return f.Field == key })
	}
	c.Label = strings.TrimSpace(raw.Label)
	if v := strings.TrimSpace(raw.XAPIVersion); v != "" {
		ver, err := xapi.ParseVersion(v)
		if err != nil {
			errs.Add(KeyXAPIVersion, "must be 1.0.3 or 2.0.0")
		} else {
			c.Version = ver
		}
	}
	if e := strings.TrimSpace(raw.Endpoint); e != "" {
		n, err := NormalizeEndpoint(e)
		if err != nil {
			errs.Add(KeyEndpoint, err.Error())
		} else {
			c.Endpoint = n
		}
	}
	c.Auth = strings.ToLower(strings.TrimSpace(raw.Auth))
	c.Key = strings.TrimSpace(raw.Key)
	if raw.Secret != "" {
		c.Secret = NewSecret(raw.Secret)
	}
	c.OAuthEndpoint = strings.TrimSpace(raw.OAuthEndpoint)
	c.ClientID = strings.TrimSpace(raw.ClientID)
	if raw.ClientSecret != "" {
		c.ClientSecret = NewSecret(raw.ClientSecret)
	}
	c.Scopes = raw.Scopes
	if raw.BearerToken != "" {
		c.BearerToken = NewSecret(strings.TrimSpace(raw.BearerToken))
	}

	ca := raw.CAPEM
	if f := strings.TrimSpace(raw.CAFile); f != "" {
		b, err := sdk.ReadSettingFile(f, sdk.MaxSettingFileBytes)
		if err == nil && checkCertsPEM(string(b)) != nil {
			err = sdk.ErrSettingFile
		}
		if err != nil {
			errs.Add(KeyCAFile, errFileSetting)
		} else {
			ca = strings.TrimSpace(ca + "\n" + string(b))
		}
	}
	c.CAPEM = strings.TrimSpace(ca)
	c.ClientCertPEM = strings.TrimSpace(raw.ClientCertPEM)
	certFromFile, pairBroken := false, false
	if f := strings.TrimSpace(raw.ClientCertFile); f != "" {
		if c.ClientCertPEM != "" {
			errs.Add(KeyClientCertFile, "set either client_cert_pem or client_cert_file, not both")
		} else if b, err := sdk.ReadSettingFile(f, sdk.MaxSettingFileBytes); err != nil {
			errs.Add(KeyClientCertFile, errFileSetting)
			pairBroken = true
		} else {
			c.ClientCertPEM = strings.TrimSpace(string(b))
			certFromFile = true
		}
	}
	keyPEM := strings.TrimSpace(raw.ClientKeyPEM)
	keyFromFile := false
	if f := strings.TrimSpace(raw.ClientKeyFile); f != "" {
		if keyPEM != "" {
			errs.Add(KeyClientKeyFile, "set either client_key_pem or client_key_file, not both")
		} else if b, err := sdk.ReadSettingFile(f, sdk.MaxSettingFileBytes); err != nil {
			errs.Add(KeyClientKeyFile, errFileSetting)
			pairBroken = true
		} else {
			keyPEM = strings.TrimSpace(string(b))
			keyFromFile = true
		}
	}
	if pairBroken {
		// Reported once, on the file setting.
		c.ClientCertPEM, keyPEM = "", ""
	}
	if keyPEM != "" {
		c.ClientKeyPEM = NewSecret(keyPEM)
	}
	if (certFromFile || keyFromFile) && c.ClientCertPEM != "" && keyPEM != "" {
		// A pair from files that does not match gets the same answer as a
		// file that cannot be read: the answer must not tell which local
		// files hold PEM.
		if _, err := tls.X509KeyPair([]byte(c.ClientCertPEM), []byte(keyPEM)); err != nil {
			field := KeyClientCertFile
			if !certFromFile {
				field = KeyClientKeyFile
			}
			errs.Add(field, errFileSetting)
			c.ClientCertPEM, c.ClientKeyPEM = "", Secret{}
		}
	}
	c.InsecureSkipVerify = raw.InsecureSkipVerify
	c.Timeout = raw.Timeout
	if m[KeyMaxBatch] != nil && !bad(KeyMaxBatch) && (raw.MaxBatch < 1 || raw.MaxBatch > MaxMaxBatch) {
		errs.Add(KeyMaxBatch, fmt.Sprintf("must be a whole number between 1 and %d", MaxMaxBatch))
	}
	c.MaxBatch = raw.MaxBatch
	if m[KeyTimeout] != nil && !bad(KeyTimeout) && raw.Timeout == 0 {
		errs.Add(KeyTimeout, fmt.Sprintf("must be between %s and %s", MinTimeout, MaxTimeout))
	}

	if err := c.validate(&errs); err != nil {
		return Config{}, err
	}
	return c, nil
}

// errFileSetting is the one message for a file setting that cannot be
// used, whatever the reason.
const errFileSetting = "cannot be used: it must name a readable regular file of at most 1 MiB holding the expected PEM data"

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
	switch c.authMode() {
	case AuthBasic:
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
	case AuthOAuth2:
		if c.OAuthEndpoint == "" {
			add(KeyOAuthEndpoint, "is required with auth oauth2 (the token URL of the authorization server)")
		} else if u, err := url.Parse(c.OAuthEndpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || hasControl(c.OAuthEndpoint) {
			add(KeyOAuthEndpoint, "must be an https:// URL without a user name or fragment")
		}
		if c.ClientID == "" {
			add(KeyClientID, "is required with auth oauth2")
		} else if hasControl(c.ClientID) {
			add(KeyClientID, "must not contain control characters")
		}
		if c.ClientSecret.IsZero() {
			add(KeyClientSecret, "is required with auth oauth2")
		} else if hasControl(c.ClientSecret.Reveal()) {
			add(KeyClientSecret, "must not contain control characters")
		}
		for _, sc := range c.Scopes {
			if hasControl(sc) || strings.ContainsAny(sc, " \"\\") {
				add(KeyScopes, "must be scope names separated by spaces")
				break
			}
		}
	case AuthBearer:
		if c.BearerToken.IsZero() {
			add(KeyBearerToken, "is required with auth bearer")
		} else if hasControl(c.BearerToken.Reveal()) || strings.ContainsAny(c.BearerToken.Reveal(), " \t") {
			add(KeyBearerToken, "must not contain spaces or control characters")
		}
	default:
		add(KeyAuth, "must be basic, oauth2 or bearer")
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

// authMode returns the effective authentication mode.
func (c Config) authMode() string {
	if c.Auth == "" {
		return AuthBasic
	}
	return c.Auth
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
	var errs sdk.ConfigError
	check := func(key, raw, secret string) {
		u, err := url.Parse(raw)
		if err != nil {
			errs.Add(key, "is not a valid URL")
			return
		}
		var ee *sdk.EgressError
		switch err := p.CheckURL(u); {
		case errors.Is(err, sdk.ErrPlainHTTP):
			errs.Add(key, "must use https: plain http would send the "+secret+" unencrypted (not allowed on this server)")
		case errors.As(err, &ee):
			errs.Add(key, fmt.Sprintf("must not be %s, %s, which this server may not reach", ee.Addr, ee.Reason))
		}
	}
	check(KeyEndpoint, c.Endpoint, "API secret")
	if c.authMode() == AuthOAuth2 {
		check(KeyOAuthEndpoint, c.OAuthEndpoint, "client secret")
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
