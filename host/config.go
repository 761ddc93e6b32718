package host

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/supervise"
	"github.com/learningflow/lrsbridge/internal/procnice"
)

// Config is the host configuration. Build it in code, starting from
// [DefaultConfig], or load it with [LoadConfig] from a YAML file and
// LRSBRIDGE_ environment variables. The README has the reference.
type Config struct {
	// DataDir holds queues, dead letters, persisted integrations and
	// normalizer state. Default "./data".
	DataDir string `koanf:"data_dir"`
	// Plugins says where sink plugins are and how to run them.
	Plugins PluginsConfig `koanf:"plugins"`
	// Egress is the operator's policy for endpoints entered by
	// organizations; organizations cannot override it.
	Egress EgressConfig `koanf:"egress"`
	// Queue configures durability and quotas of the queues.
	Queue QueueConfig `koanf:"queue"`
	// Delivery configures batching, retries and circuit breakers.
	Delivery DeliveryConfig `koanf:"delivery"`
	// Secrets configures encryption of persisted integration secrets.
	Secrets SecretsConfig `koanf:"secrets"`
	// Telemetry configures the attributes of the host's OpenTelemetry
	// metrics.
	Telemetry TelemetryConfig `koanf:"telemetry"`
	// Orgs are the organizations known from configuration, by id.
	Orgs map[string]OrgConfig `koanf:"orgs"`
}

// PluginsConfig says where sink plugins are and how to run them.
type PluginsConfig struct {
	// Dir holds plugin executables by name (lrs, archive, mock, or third
	// party ones). Default "./bin/plugins".
	Dir string `koanf:"dir"`
	// SHA256 maps plugin names to the expected hex SHA-256 of their
	// executable; a plugin with a configured checksum is verified before
	// every start and not started on mismatch.
	SHA256 map[string]string `koanf:"sha256"`
	// Process maps plugin names to their process policy: ProcessShared
	// (the default) or ProcessPerOrg.
	Process map[string]ProcessPolicy `koanf:"process"`
	// IdleTimeout closes the sink instance of an integration that has had
	// no statement for this long (its delivery then parks without a
	// goroutine until the next one), and stops a plugin process that has
	// had no instance for this long. Default 5m.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// StartTimeout bounds a plugin's start and handshake. Default 30s.
	StartTimeout time.Duration `koanf:"start_timeout"`
	// Nice lowers the CPU priority of plugin processes by this much, 0 (the
	// host's priority, the default) to 19 (the lowest). Set, the host's
	// threads (LearningFlow's Record calls, woken when the disk has synced
	// their statements) run before delivery in the plugins when the
	// machine is busy, and delivery gets what CPU is left: on a machine
	// that LearningFlow keeps busy it slows down, and catches up later.
	// Linux lowers every thread of a plugin; other Unix systems lower the
	// process once started; elsewhere it has no effect.
	Nice int `koanf:"nice"`
	// Env lists extra environment variables ("KEY=value") for plugin
	// processes. The host passes only proxy and TLS trust variables
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR) of its
	// own environment.
	Env []string `koanf:"env"`
	// AllowRuntime lists the plugins organization admins may choose at run
	// time (TestIntegration, SaveIntegration). Integrations of the
	// configuration file may use any plugin. Default ["lrs"].
	AllowRuntime []string `koanf:"allow_runtime"`
	// ConfigOnlySettings maps plugin names ("*" for every plugin) to the
	// settings only the configuration file may set: organization admins
	// may not enter them at run time, at any depth of the configuration.
	// A name starting with "*" matches every setting that ends with the
	// rest ("*_file"). Default {"*": ["*_file", "*dir", "*path"]}: local
	// file and directory paths, such as the LRS sink's ca_file, the
	// archive's dir or the mock's record_file.
	ConfigOnlySettings map[string][]string `koanf:"config_only_settings"`
}

// EgressConfig is the operator's policy for outbound connections to
// endpoints that organizations enter.
type EgressConfig struct {
	// AllowCIDRs lists ranges of otherwise refused addresses (loopback,
	// private, link-local, metadata) that sinks may connect to, for
	// example "127.0.0.0/8" for local testing. Default none.
	AllowCIDRs []string `koanf:"allow_cidrs"`
	// AllowHTTP allows plain http:// endpoints. Default false.
	AllowHTTP bool `koanf:"allow_http"`
}

// QueueConfig configures the durable queues.
type QueueConfig struct {
	// Backend is where queues, dead letters and normalizer state live:
	// BackendFile (the default, under data_dir) or BackendJetStream (on
	// NATS JetStream servers shared by several instances).
	Backend Backend `koanf:"backend"`
	// NATS configures the servers of the jetstream backend (queue.nats.*);
	// it is ignored with the file backend.
	NATS NATSConfig `koanf:"nats"`
	// Sync is the durability policy of recording. Default SyncAlways.
	Sync SyncPolicy `koanf:"sync"`
	// GroupWindow is the wait of the "group" policy. Default 2ms.
	GroupWindow time.Duration `koanf:"group_window"`
	// MaxQueueBytes bounds the pending bytes of one sink instance's queue.
	// Default 1 GiB; 0 means no limit.
	MaxQueueBytes int64 `koanf:"max_queue_bytes"`
	// MaxOrgBytes bounds the pending bytes of one organization's queues.
	// Default 2 GiB; 0 means no limit.
	MaxOrgBytes int64 `koanf:"max_org_bytes"`
	// MaxTotalBytes bounds the pending bytes of all queues. Default 10 GiB;
	// 0 means no limit.
	MaxTotalBytes int64 `koanf:"max_total_bytes"`
	// MaxOpenFiles is the queues' descriptor budget: how many queue files
	// (segments and ack logs) stay open at most. Idle queues hold none, so
	// the number of open files is bounded by this budget, not by the number
	// of organizations. Default 256; a budget below the number of
	// integrations recording at the same moment costs an open and a close
	// per commit.
	MaxOpenFiles int `koanf:"max_open_files"`
}

// DeliveryConfig configures batching, retries and circuit breakers.
type DeliveryConfig struct {
	// BatchSize is the most statements in one batch. Default 100.
	BatchSize int `koanf:"batch_size"`
	// BatchBytes is the most bytes of statements in one batch. Default
	// 1 MiB.
	BatchBytes int64 `koanf:"batch_bytes"`
	// Linger is how long a worker waits for a batch to fill before sending
	// a partial one. Default 20ms.
	Linger time.Duration `koanf:"linger"`
	// Parallel is how many batches of one integration may be in flight at
	// once. More than one hides the round trip to the plugin and the LRS;
	// statements of batches in flight together may then be stored in a
	// different order. 1 keeps the recording order. Default 2.
	Parallel int `koanf:"parallel"`
	// BackoffInitial is the first retry delay after a failed batch.
	// Default 500ms.
	BackoffInitial time.Duration `koanf:"backoff_initial"`
	// BackoffMax caps the retry delay. Default 5m.
	BackoffMax time.Duration `koanf:"backoff_max"`
	// MaxAge is how long a statement may keep failing transiently before it
	// is dead-lettered as expired. Default 168h (7 days); 0 means never.
	MaxAge time.Duration `koanf:"max_age"`
	// BreakerFailures is the number of consecutive failed batches that
	// opens an instance's circuit breaker. Default 5.
	BreakerFailures int `koanf:"breaker_failures"`
	// BreakerOpen is how long a breaker stays open before it lets one
	// probe batch through. Default 30s.
	BreakerOpen time.Duration `koanf:"breaker_open"`
	// Timeout bounds one delivery call to a sink. Default 60s.
	Timeout time.Duration `koanf:"timeout"`
}

// SecretsConfig configures how integration secrets are persisted.
type SecretsConfig struct {
	// Key is the base64 encoding of a 32-byte AES-256 key used to encrypt
	// secrets of integrations saved at run time (AES-GCM). Set it through
	// the environment (LRSBRIDGE_SECRETS__KEY) rather than a file.
	Key string `koanf:"key"`
	// AllowPlaintext lets the host persist secrets in clear when no Key
	// is set. Default false: saving an integration with a secret fails.
	AllowPlaintext bool `koanf:"allow_plaintext"`
}

// OrgConfig is one organization: its normalization settings (base_iri,
// identity, send_names, chat_text, chat_truncate, scorm_interaction_verb,
// platform; see [OrgSettings]) and its integrations.
type OrgConfig struct {
	OrgSettings `koanf:",squash"`
	// Sinks are the organization's integrations from configuration.
	Sinks []SinkConfig `koanf:"sinks"`
}

// SinkConfig is one integration: a sink plugin with its configuration.
type SinkConfig struct {
	// ID identifies the integration within its organization. Default: made
	// from Label.
	ID string `koanf:"id"`
	// Label is the integration label shown to organization admins.
	Label string `koanf:"label"`
	// Plugin is the sink plugin's name: lrs, archive, mock or a third
	// party one found in the plugins directory.
	Plugin string `koanf:"plugin"`
	// Config is the plugin's opaque configuration. Keys whose names contain
	// "secret", "password", "token" or "private" (and "client_key") are
	// treated as secrets: masked in listings and status, encrypted at rest.
	Config map[string]any `koanf:"config"`
}

// DefaultConfig returns the configuration with every default filled in and
// no organizations.
func DefaultConfig() Config {
	return Config{
		DataDir: "./data",
		Plugins: PluginsConfig{
			Dir: "./bin/plugins", IdleTimeout: 5 * time.Minute, StartTimeout: 30 * time.Second,
			AllowRuntime:       []string{"lrs"},
			ConfigOnlySettings: map[string][]string{"*": {"*_file", "*dir", "*path"}},
		},
		Queue: QueueConfig{
			Backend:       BackendFile,
			NATS:          defaultNATSConfig(),
			Sync:          SyncAlways,
			GroupWindow:   2 * time.Millisecond,
			MaxQueueBytes: 1 << 30,
			MaxOrgBytes:   2 << 30,
			MaxTotalBytes: 10 << 30,
			MaxOpenFiles:  256,
		},
		Delivery: DeliveryConfig{
			BatchSize:       100,
			BatchBytes:      1 << 20,
			Linger:          20 * time.Millisecond,
			Parallel:        2,
			BackoffInitial:  500 * time.Millisecond,
			BackoffMax:      5 * time.Minute,
			MaxAge:          7 * 24 * time.Hour,
			BreakerFailures: 5,
			BreakerOpen:     30 * time.Second,
			Timeout:         60 * time.Second,
		},
		Telemetry: TelemetryConfig{Attributes: TelemetryAttributes{Mode: AttributesLimited, Limit: 100}},
	}
}

// ConfigError lists every problem of a configuration, each naming its key.
type ConfigError struct {
	// Problems name each bad key, in a stable order.
	Problems []ConfigProblem
}

// ConfigProblem is one invalid configuration key.
type ConfigProblem struct {
	// Key is the configuration key, for example "queue.sync" or
	// "orgs.acme.base_iri".
	Key string
	// Message says what is wrong.
	Message string
}

// String returns "key: message".
func (p ConfigProblem) String() string { return p.Key + ": " + p.Message }

// Error returns the message of e.
func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// orgProblems returns the problems of an organization's id and settings,
// keyed "orgs.<id>" and "orgs.<id>.<setting>".
func orgProblems(id string, s OrgSettings) []ConfigProblem {
	var out []ConfigProblem
	key := "orgs." + id
	if !orgIDPattern.MatchString(id) {
		out = append(out, ConfigProblem{key, "organization id must be 1 to 128 letters, digits, '.', '_' or '-'"})
	}
	if err := s.internal().Validate(); err != nil {
		var se *normalize.SettingsError
		if errors.As(err, &se) {
			for _, p := range se.Problems {
				out = append(out, ConfigProblem{key + "." + p.Key, p.Message})
			}
		} else {
			out = append(out, ConfigProblem{key, err.Error()})
		}
	}
	return out
}

var (
	orgIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	sinkIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	pluginPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// Validate checks c and returns a *ConfigError naming every bad key.
func (c *Config) Validate() error {
	var ps []ConfigProblem
	add := func(key, format string, args ...any) {
		ps = append(ps, ConfigProblem{key, fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		add("data_dir", "is required")
	}
	if c.Plugins.Dir == "" {
		add("plugins.dir", "is required")
	}
	if err := procnice.Check(c.Plugins.Nice); err != nil {
		add("plugins.nice", "%v", err)
	}
	for name, sum := range c.Plugins.SHA256 {
		if b, err := hex.DecodeString(strings.TrimSpace(sum)); err != nil || len(b) != 32 {
			add("plugins.sha256."+name, "is not a hex SHA-256 checksum (64 hex digits)")
		}
	}
	for i, name := range c.Plugins.AllowRuntime {
		if !pluginPattern.MatchString(name) {
			add(fmt.Sprintf("plugins.allow_runtime[%d]", i), "%q is not a plugin name", name)
		}
	}
	for name := range c.Plugins.ConfigOnlySettings {
		if name != "*" && !pluginPattern.MatchString(name) {
			add("plugins.config_only_settings."+name, "%q is not a plugin name (or \"*\" for every plugin)", name)
		}
	}
	for name, p := range c.Plugins.Process {
		if err := p.check(); err != nil {
			add("plugins.process."+name, "%v", err)
		}
	}
	for i, cidr := range c.Egress.AllowCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			add(fmt.Sprintf("egress.allow_cidrs[%d]", i), "%q is not a CIDR prefix", cidr)
		}
	}
	if err := c.Queue.Sync.check(); err != nil {
		add("queue.sync", "%v", err)
	}
	ps = append(ps, c.backendProblems()...)
	for key, v := range map[string]int64{
		"queue.max_queue_bytes": c.Queue.MaxQueueBytes, "queue.max_org_bytes": c.Queue.MaxOrgBytes,
		"queue.max_total_bytes": c.Queue.MaxTotalBytes, "delivery.batch_bytes": c.Delivery.BatchBytes,
	} {
		if v < 0 {
			add(key, "is negative")
		}
	}
	if c.Queue.MaxOpenFiles < 1 {
		add("queue.max_open_files", "is %d, want at least 1 (default 256)", c.Queue.MaxOpenFiles)
	}
	d := c.Delivery
	if d.BatchSize < 1 || d.BatchSize > 10000 {
		add("delivery.batch_size", "is %d, want 1 to 10000", d.BatchSize)
	}
	for key, v := range map[string]time.Duration{
		"delivery.linger": d.Linger, "delivery.backoff_initial": d.BackoffInitial, "delivery.backoff_max": d.BackoffMax,
		"delivery.max_age": d.MaxAge, "delivery.breaker_open": d.BreakerOpen, "delivery.timeout": d.Timeout,
	} {
		if v < 0 {
			add(key, "is negative")
		}
	}
	if d.Parallel < 1 || d.Parallel > 64 {
		add("delivery.parallel", "is %d, want 1 to 64", d.Parallel)
	}
	if d.BackoffInitial <= 0 {
		add("delivery.backoff_initial", "must be positive")
	}
	if d.Timeout <= 0 {
		add("delivery.timeout", "must be positive")
	}
	if d.BreakerFailures < 1 {
		add("delivery.breaker_failures", "must be at least 1")
	}
	if err := c.Telemetry.Attributes.Mode.check(); err != nil {
		add("telemetry.attributes.mode", "%v", err)
	}
	if l := c.Telemetry.Attributes.Limit; l < 0 {
		add("telemetry.attributes.limit", "is %d, want 0 (the default, 100) or more", l)
	}
	if c.Secrets.Key != "" {
		if k, err := base64.StdEncoding.DecodeString(c.Secrets.Key); err != nil || len(k) != 32 {
			add("secrets.key", "is not the base64 encoding of 32 bytes")
		}
	}
	orgs := make([]string, 0, len(c.Orgs))
	for id := range c.Orgs {
		orgs = append(orgs, id)
	}
	sort.Strings(orgs)
	for _, id := range orgs {
		org := c.Orgs[id]
		key := "orgs." + id
		ps = append(ps, orgProblems(id, org.OrgSettings)...)
		seen := map[string]bool{}
		for i, s := range org.Sinks {
			skey := fmt.Sprintf("%s.sinks[%d]", key, i)
			if !pluginPattern.MatchString(s.Plugin) {
				add(skey+".plugin", "%q is not a plugin name (lower-case letters, digits, '-', '_')", s.Plugin)
			}
			id := s.id()
			if !sinkIDPattern.MatchString(id) {
				add(skey+".id", "%q is not a valid integration id", id)
			}
			if seen[id] {
				add(skey+".id", "%q is used twice in this organization", id)
			}
			seen[id] = true
		}
	}
	if len(ps) > 0 {
		return &ConfigError{Problems: ps}
	}
	return nil
}

// ProcessPolicy says how many processes of a plugin run.
type ProcessPolicy string

// Process policies of plugins.
const (
	// ProcessShared runs one process of a plugin for every organization.
	ProcessShared ProcessPolicy = "shared"
	// ProcessPerOrg runs one process of a plugin per organization, for
	// isolation of untrusted plugins.
	ProcessPerOrg ProcessPolicy = "per_org"
)

// UnmarshalText accepts "shared" or "per_org".
func (p *ProcessPolicy) UnmarshalText(b []byte) error {
	v := ProcessPolicy(b)
	if err := v.check(); err != nil {
		return err
	}
	*p = v
	return nil
}

func (p ProcessPolicy) check() error {
	if p != ProcessShared && p != ProcessPerOrg {
		return fmt.Errorf("is %q, want %q or %q", string(p), ProcessShared, ProcessPerOrg)
	}
	return nil
}

// SyncPolicy is the durability policy of recording.
type SyncPolicy string

// Durability policies.
const (
	// SyncAlways: Record returns once the statements are fsynced;
	// concurrent callers share fsyncs.
	SyncAlways SyncPolicy = "always"
	// SyncGroup: wait up to queue.group_window to share an fsync with more
	// callers.
	SyncGroup SyncPolicy = "group"
	// SyncNone: no fsync; for tests only.
	SyncNone SyncPolicy = "none"
)

// UnmarshalText accepts "always", "group" or "none".
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	v := SyncPolicy(b)
	if err := v.check(); err != nil {
		return err
	}
	*p = v
	return nil
}

func (p SyncPolicy) check() error {
	switch p {
	case SyncAlways, SyncGroup, SyncNone:
		return nil
	}
	return fmt.Errorf("is %q, want %q, %q or %q", string(p), SyncAlways, SyncGroup, SyncNone)
}

func (p SyncPolicy) policy() queue.SyncPolicy {
	switch p {
	case SyncGroup:
		return queue.SyncGroup
	case SyncNone:
		return queue.SyncNone
	}
	return queue.SyncAlways
}

// supervisorOptions returns the options of the plugin supervisor; the
// configuration is valid.
func (c PluginsConfig) supervisorOptions(log *slog.Logger, onStart func(org, plugin string, restart bool), onExit func(org, plugin string, stopped bool)) supervise.Options {
	o := supervise.Options{
		Dir: c.Dir, SHA256: map[string][]byte{}, PerOrg: map[string]bool{},
		IdleTimeout: c.IdleTimeout, StartTimeout: c.StartTimeout, Env: c.Env, Nice: c.Nice,
		Logger: log, OnStart: onStart, OnExit: onExit,
	}
	for name, sum := range c.SHA256 {
		o.SHA256[name], _ = hex.DecodeString(strings.TrimSpace(sum))
	}
	for name, p := range c.Process {
		o.PerOrg[name] = p == ProcessPerOrg
	}
	return o
}

// configured returns the organizations of the configuration for the
// registry.
func (c *Config) configured() map[string]registry.Configured {
	out := make(map[string]registry.Configured, len(c.Orgs))
	for id, oc := range c.Orgs {
		r := registry.Configured{Settings: oc.OrgSettings.internal()}
		for _, s := range oc.Sinks {
			r.Integrations = append(r.Integrations, registry.Integration{
				ID: s.id(), Label: s.Label, Plugin: s.Plugin, Config: registry.CloneConfig(s.Config),
			})
		}
		out[id] = r
	}
	return out
}

func (s SinkConfig) id() string {
	if s.ID != "" {
		return s.ID
	}
	return slug(s.Label, s.Plugin)
}

// slug makes an integration id from a label: lower case, runs of other
// characters as '-'.
func slug(label, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(label) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if b.Len() > 0 && !dash {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		return fallback
	}
	return s
}

// EnvPrefix is the prefix of environment variables that override
// configuration keys. A double underscore separates levels:
// LRSBRIDGE_QUEUE__SYNC=none sets queue.sync, LRSBRIDGE_DATA_DIR sets
// data_dir. A variable that sets a list of values takes the elements
// separated by commas: LRSBRIDGE_PLUGINS__ALLOW_RUNTIME=lrs,archive.
const EnvPrefix = "LRSBRIDGE_"

// sdkEnvPrefix starts the variables of package sdk's plugin protocol
// (LRSBRIDGE_SINK_LOG_LEVEL, LRSBRIDGE_SINK_REATTACH, ...), which share
// EnvPrefix but are not configuration keys.
const sdkEnvPrefix = EnvPrefix + "SINK_"

// LoadConfig loads the configuration in layers: defaults, then the YAML file
// at path (skipped when path is empty), then LRSBRIDGE_ variables from
// environ (os.Environ() when nil), and validates the result.
func LoadConfig(path string, environ []string) (Config, error) {
	var layer koanf.Provider
	if path != "" {
		layer = file.Provider(path)
	}
	return loadConfig(layer, path, environ)
}

// LoadConfigYAML is LoadConfig with the YAML document given as bytes
// instead of a file, for embedders that keep configuration elsewhere.
func LoadConfigYAML(data []byte, environ []string) (Config, error) {
	return loadConfig(bytesProvider(data), "(yaml)", environ)
}

// bytesProvider is a koanf provider of a document held in memory.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytes provider needs a parser")
}

func loadConfig(layer koanf.Provider, name string, environ []string) (Config, error) {
	k := koanf.New(".")
	var unknown []ConfigProblem // unknown keys and invalid enum values
	if layer != nil {
		fk := koanf.New(".")
		if err := fk.Load(layer, yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("load configuration %s: %w", name, err)
		}
		unknown = append(unknown, checkKeys(fk.Raw(), "in "+name, nil)...)
		if err := k.Merge(fk); err != nil {
			return Config{}, fmt.Errorf("load configuration %s: %w", name, err)
		}
	}
	if environ == nil {
		environ = os.Environ()
	}
	ek, problems, err := envLayer(environ)
	if err != nil {
		return Config{}, err
	}
	unknown = append(unknown, problems...)
	if err := k.Merge(ek); err != nil {
		return Config{}, fmt.Errorf("load environment: %w", err)
	}
	// Keys found wrong are left out of decoding, so that every other
	// problem is reported in the same error.
	for _, p := range unknown {
		k.Delete(p.Key)
	}
	// Defaults have one source: the file and the environment are decoded
	// over DefaultConfig.
	c := DefaultConfig()
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return Config{}, fmt.Errorf("decode configuration: %w", err)
	}
	err = c.Validate()
	var ce *ConfigError
	switch {
	case len(unknown) == 0 && err != nil:
		return Config{}, err
	case len(unknown) == 0:
		return c, nil
	case errors.As(err, &ce):
		ce.Problems = append(unknown, ce.Problems...)
		return Config{}, ce
	}
	return Config{}, &ConfigError{Problems: unknown}
}

// envLayer loads the LRSBRIDGE_ variables of environ as a layer of the
// configuration, with the problems found in it: unknown keys, values
// outside an enumeration and malformed lists. A variable that sets a list
// of values is split on commas (splitList).
func envLayer(environ []string) (*koanf.Koanf, []ConfigProblem, error) {
	vars := map[string]string{} // configuration key -> variable name
	var problems []ConfigProblem
	ek := koanf.New(".")
	if err := ek.Load(env.Provider(".", env.Opt{
		Prefix: EnvPrefix,
		TransformFunc: func(name, value string) (string, any) {
			if strings.HasPrefix(name, sdkEnvPrefix) {
				return "", nil // the plugin protocol's variables, not configuration
			}
			key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
			key = strings.ReplaceAll(key, "__", ".")
			vars[key] = name
			if !isListKey(key) {
				return key, value
			}
			list, err := splitList(value)
			if err != nil {
				problems = append(problems, ConfigProblem{Key: key, Message: "set by " + name + ": " + err.Error()})
				return "", nil
			}
			return key, list
		},
		EnvironFunc: func() []string { return environ },
	}), nil); err != nil {
		return nil, nil, fmt.Errorf("load environment: %w", err)
	}
	return ek, append(checkKeys(ek.Raw(), "from the environment", vars), problems...), nil
}
