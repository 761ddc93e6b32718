package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Auth failure kinds for Config.AuthFail.
const (
	// AuthUnauthenticated makes every batch fail as an LRS answering 401.
	AuthUnauthenticated = "unauthenticated"
	// AuthForbidden makes every batch fail as an LRS answering 403.
	AuthForbidden = "forbidden"
)

// Config is the script of a mock sink instance. The zero value (apart from
// XAPIVersion) delivers everything and records nothing.
type Config struct {
	// RecordFile is the file every delivered statement is appended to, one
	// JSON statement per line, written once per batch so that a test can
	// read it while the plugin runs. The file is appended to, never
	// truncated: a restarted plugin adds to the same recording. Empty
	// records nothing.
	RecordFile string `koanf:"record_file"`
	// FailFirst makes the first FailFirst batches fail with a retryable
	// error. Default 0.
	FailFirst int `koanf:"fail_first"`
	// RetryAfter, when set, makes the FailFirst failures ask to retry after
	// it, as an LRS answering 429 or 503 with Retry-After. Default 0.
	RetryAfter time.Duration `koanf:"retry_after"`
	// Reject lists rules; a statement matching one gets a permanent verdict
	// carrying the rule's message, as an LRS answering 400. Default none.
	Reject []Rule `koanf:"reject"`
	// AuthFail makes every batch fail with AuthUnauthenticated or
	// AuthForbidden; empty (the default) means credentials are fine.
	AuthFail string `koanf:"auth_fail"`
	// Latency is waited before each batch is answered (or until the call's
	// context is done). Default 0.
	Latency time.Duration `koanf:"latency"`
	// CrashOnBatch makes the plugin process exit with status 2 when it
	// receives this instance's CrashOnBatch-th batch (counting from 1); 0
	// (the default) never. With RecordFile set, the crash happens once per
	// recording: a marker file RecordFile+".crashed" is created before
	// exiting, and a restarted process that finds it does not crash again.
	// Only a provider made with WithCrash accepts it (the mock plugin's
	// does), so that a test calling the library never exits.
	CrashOnBatch int `koanf:"crash_on_batch"`
	// XAPIVersion is the version the instance reports to the host. Default
	// xapi.V200.
	XAPIVersion xapi.Version `koanf:"xapi_version"`
}

// DefaultConfig returns the defaults: deliver everything, xAPI 2.0.
func DefaultConfig() Config {
	return Config{XAPIVersion: xapi.V200}
}

// Rule selects statements to reject. Set Path with Equals or Contains, or
// Contains alone to match a substring of the statement's JSON.
//
// In a configuration map a rule is an object with the keys "path",
// "equals", "contains" and "message", or one of the shorthands
// {"id": ID} (path "id" equals ID) and {"verb": IRI} (path "verb.id" equals
// IRI), which take a "message" too.
type Rule struct {
	// Path selects a value in the statement: keys separated by dots, array
	// indexes and keys with dots in brackets, for example
	// `object.definition.name["en-US"]`, `context.contextActivities.parent[0].id`
	// or `context.extensions["https://example.com/ext"]`.
	Path string `koanf:"path"`
	// Equals matches when the value at Path is this string, or, for a value
	// that is not a string, when its compact JSON is this string ("true",
	// "0.5").
	Equals *string `koanf:"equals"`
	// Contains matches when the value at Path (a string, or the compact JSON
	// of another value) contains it; without Path, when the statement's JSON
	// contains it.
	Contains string `koanf:"contains"`
	// Message is the message of the permanent verdict. Default "statement
	// rejected by rule N".
	Message string `koanf:"message"`

	path []pathStep
}

// pathStep is one step of a parsed Rule.Path: a key or an array index.
type pathStep struct {
	key   string
	index int
	isIdx bool
}

// parsePath parses a Rule path.
func parsePath(p string) ([]pathStep, error) {
	var steps []pathStep
	i := 0
	readKey := func() string {
		j := i
		for j < len(p) && p[j] != '.' && p[j] != '[' {
			j++
		}
		k := p[i:j]
		i = j
		return k
	}
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	if k := readKey(); k != "" {
		steps = append(steps, pathStep{key: k})
	} else if p[0] != '[' {
		return nil, fmt.Errorf("path %q: empty key at offset 0", p)
	}
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			k := readKey()
			if k == "" {
				return nil, fmt.Errorf("path %q: empty key at offset %d", p, i)
			}
			steps = append(steps, pathStep{key: k})
		case '[':
			if strings.HasPrefix(p[i:], `["`) {
				end := strings.Index(p[i+2:], `"]`)
				if end < 0 {
					return nil, fmt.Errorf("path %q: unterminated [\" at offset %d", p, i)
				}
				steps = append(steps, pathStep{key: p[i+2 : i+2+end]})
				i += 2 + end + 2
				continue
			}
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unterminated [ at offset %d", p, i)
			}
			n, err := strconv.Atoi(p[i+1 : i+end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: bad index at offset %d", p, i)
			}
			steps = append(steps, pathStep{index: n, isIdx: true})
			i += end + 1
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at offset %d", p, p[i], i)
		}
	}
	return steps, nil
}

// lookup returns the value at path in v, a document decoded with UseNumber.
func lookup(v any, path []pathStep) (any, bool) {
	for _, s := range path {
		if s.isIdx {
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			v = a[s.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// text returns a string value as is and any other value as compact JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// match reports whether the rule matches a statement, given its JSON and a
// function that decodes it once on demand.
func (r *Rule) match(raw []byte, doc func() (any, bool)) bool {
	if r.path == nil {
		return strings.Contains(string(raw), r.Contains)
	}
	d, ok := doc()
	if !ok {
		return false
	}
	v, ok := lookup(d, r.path)
	if !ok {
		return false
	}
	s := text(v)
	if r.Equals != nil {
		return s == *r.Equals
	}
	return strings.Contains(s, r.Contains)
}

// Validate checks c and reports every problem as a *sdk.ConfigError. It
// also prepares the rules for matching.
func (c *Config) Validate() error {
	ce := &sdk.ConfigError{}
	if c.RecordFile != "" && !filepath.IsAbs(c.RecordFile) {
		ce.Add("record_file", "must be an absolute path")
	}
	if c.FailFirst < 0 {
		ce.Add("fail_first", "must not be negative")
	}
	if c.RetryAfter < 0 {
		ce.Add("retry_after", "must not be negative")
	}
	if c.RetryAfter > 0 && c.FailFirst == 0 {
		ce.Add("retry_after", "applies to the failures of fail_first, which is 0")
	}
	switch c.AuthFail {
	case "", AuthUnauthenticated, AuthForbidden:
	default:
		ce.Add("auth_fail", `must be "unauthenticated" or "forbidden"`)
	}
	if c.Latency < 0 {
		ce.Add("latency", "must not be negative")
	}
	if c.CrashOnBatch < 0 {
		ce.Add("crash_on_batch", "must not be negative")
	}
	if _, err := xapi.ParseVersion(string(c.XAPIVersion)); err != nil {
		ce.Add("xapi_version", `must be "1.0.3" or "2.0.0"`)
	}
	for i := range c.Reject {
		r := &c.Reject[i]
		field := fmt.Sprintf("reject[%d]", i)
		switch {
		case r.Path == "" && r.Equals != nil:
			ce.Add(field, "equals needs a path")
		case r.Path == "" && r.Contains == "":
			ce.Add(field, "needs a path with equals or contains, or contains alone")
		case r.Path != "" && (r.Equals == nil) == (r.Contains == ""):
			ce.Add(field, "needs exactly one of equals and contains")
		case r.Path != "":
			p, err := parsePath(r.Path)
			if err != nil {
				ce.Add(field, err.Error())
			}
			r.path = p
		}
		if r.Message == "" {
			r.Message = fmt.Sprintf("statement rejected by rule %d", i)
		}
	}
	return ce.Err()
}

// settings is the configuration map as sdk.DecodeConfig reads it.
type settings struct {
	RecordFile   string        `config:"record_file"`
	FailFirst    int           `config:"fail_first"`
	RetryAfter   time.Duration `config:"retry_after"`
	Reject       []any         `config:"reject"`
	AuthFail     string        `config:"auth_fail"`
	Latency      time.Duration `config:"latency"`
	CrashOnBatch int           `config:"crash_on_batch"`
	XAPIVersion  string        `config:"xapi_version" default:"2.0.0"`
}

// ParseConfig reads a Config from the opaque configuration map a host
// sends, with sdk.DecodeConfig. Keys: "record_file" (string; when the file
// exists it must be a regular file), "fail_first" and "crash_on_batch"
// (whole numbers), "retry_after" and "latency" (durations: a Go duration
// string such as "1.5s", or a number of seconds), "reject" (a list of rules,
// see Rule), "auth_fail" ("unauthenticated" or "forbidden") and
// "xapi_version" ("1.0.3" or "2.0.0", default "2.0.0"). Unknown keys are
// errors. Problems are reported together as a *sdk.ConfigError.
func ParseConfig(m map[string]any) (Config, error) {
	var raw settings
	ce := &sdk.ConfigError{}
	var derr *sdk.ConfigError
	if errors.As(sdk.DecodeConfig(m, &raw), &derr) {
		ce.Fields = append(ce.Fields, derr.Fields...)
	}
	c := Config{
		RecordFile: raw.RecordFile, FailFirst: raw.FailFirst, RetryAfter: raw.RetryAfter,
		AuthFail: raw.AuthFail, Latency: raw.Latency, CrashOnBatch: raw.CrashOnBatch,
		XAPIVersion: xapi.Version(raw.XAPIVersion),
	}
	if ver, err := xapi.ParseVersion(raw.XAPIVersion); err == nil {
		c.XAPIVersion = ver
	}
	for i, item := range raw.Reject {
		r, err := parseRule(item)
		if err != "" {
			ce.Add(fmt.Sprintf("reject[%d]", i), err)
		}
		// A bad rule keeps its place, so that the indexes Validate
		// reports are those of the configuration.
		c.Reject = append(c.Reject, r)
	}
	if c.RecordFile != "" && filepath.IsAbs(c.RecordFile) && sdk.CheckSettingPath(c.RecordFile, false) != nil {
		ce.Add("record_file", sdk.ErrSettingPath.Error())
	}
	var verr *sdk.ConfigError
	if errors.As(c.Validate(), &verr) {
		for _, f := range verr.Fields {
			if !slices.ContainsFunc(ce.Fields, func(g sdk.FieldError) bool { return g.Field == f.Field }) {
				ce.Fields = append(ce.Fields, f)
			}
		}
	}
	if err := ce.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseRule reads one rule; it returns a problem description or "".
func parseRule(v any) (Rule, string) {
	m, ok := v.(map[string]any)
	if !ok {
		return Rule{}, "must be an object"
	}
	var r Rule
	str := func(k string) (string, bool) {
		s, ok := m[k].(string)
		return s, ok
	}
	for k := range m {
		if _, ok := str(k); !ok {
			return Rule{}, k + " must be a string"
		}
		switch k {
		case "path", "equals", "contains", "message", "id", "verb":
		default:
			return Rule{}, k + " is not a key of a rule"
		}
	}
	r.Path, _ = str("path")
	r.Contains, _ = str("contains")
	r.Message, _ = str("message")
	if s, ok := str("equals"); ok {
		r.Equals = &s
	}
	for _, short := range []struct{ key, path string }{{"id", "id"}, {"verb", "verb.id"}} {
		s, ok := str(short.key)
		if !ok {
			continue
		}
		if r.Path != "" || r.Equals != nil || r.Contains != "" || len(m) > 2 || (len(m) == 2 && r.Message == "") {
			return Rule{}, short.key + " cannot be combined with other matching keys"
		}
		r.Path, r.Equals = short.path, &s
	}
	return r, ""
}
