package jsstore

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Config configures the JetStream backend. Its koanf tags match the keys
// under the host's `queue.nats` section (for example
// `queue.nats.url`, or LRSBRIDGE_QUEUE__NATS__URL in the environment).
type Config struct {
	// URL lists the servers, comma-separated
	// ("nats://nats-1:4222,nats://nats-2:4222"). Required. It may carry
	// user:password, which is never shown in errors or logs.
	URL string `koanf:"url"`
	// CredsFile is a NATS credentials file (JWT and nkey seed). Optional.
	CredsFile string `koanf:"creds_file"`
	// TLS configures a verified TLS connection. Setting any file requires
	// TLS; a tls:// URL does too.
	TLS TLSConfig `koanf:"tls"`
	// Stream is the queue stream's name. The dead-letter stream is
	// <Stream>_DLQ and the key-value buckets <Stream>_config, _state and
	// _status. Default "LRSBRIDGE".
	Stream string `koanf:"stream"`
	// SubjectPrefix is the first subject token: queues are
	// <prefix>.<org>.<sink>, dead letters <prefix>dl.<org>.<sink>.
	// Default "lrs".
	SubjectPrefix string `koanf:"subject_prefix"`
	// Replicas is the replica count of every stream and bucket: 1 for
	// development and tests, 3 (the default) or 5 in production.
	Replicas int `koanf:"replicas"`
	// Create creates or updates the streams and buckets at start (the
	// default). With false they must exist (managed by an operator) and
	// are verified: the host refuses to start when one is missing or set
	// up differently.
	Create *bool `koanf:"create"`
	// DuplicateWindow is the queue stream's deduplication window: the
	// retries of one Append must fit in it. Default 2m.
	DuplicateWindow time.Duration `koanf:"duplicate_window"`
	// PublishTimeout bounds how long an Append retries an unanswered
	// publish before it returns an "outcome unknown" error. Default 30s;
	// must be below DuplicateWindow.
	PublishTimeout time.Duration `koanf:"publish_timeout"`
	// PinnedTTL is how long an integration stays with an instance that
	// stopped pulling without letting go (it died): the failover delay.
	// Default 15s; at least 1s and below AckWait.
	PinnedTTL time.Duration `koanf:"pinned_ttl"`
	// AckWait is when the servers hand a statement out again to the same
	// instance when it was neither acknowledged nor kept alive. Default 5m.
	AckWait time.Duration `koanf:"ack_wait"`
	// MaxAckPending bounds the messages (of one or more statements) one
	// integration can have handed out and unacknowledged; it must be at
	// least delivery.parallel times delivery.batch_size. Default 1000.
	MaxAckPending int `koanf:"max_ack_pending"`
	// MaxConsumers is the queue stream's consumer limit: one consumer per
	// integration. Default 10000.
	MaxConsumers int `koanf:"max_consumers"`
	// MaxQueueMessages is the per-integration quota on pending statements.
	// Default 1,000,000; 0 means unlimited. Like MaxOrgMessages it is
	// checked by each instance against counts read from the servers (at
	// most a second old once a recording would take the count past half
	// the quota, at most 30s old below that), so it may be overshot by what
	// other instances record meanwhile.
	MaxQueueMessages int64 `koanf:"max_queue_messages"`
	// MaxOrgMessages is the per-organization quota on pending statements,
	// checked like MaxQueueMessages. 0 (the default) means unlimited.
	MaxOrgMessages int64 `koanf:"max_org_messages"`
	// MaxTotalBytes is the queue stream's size limit, enforced by the
	// servers. Default 10 GiB; 0 means unlimited.
	MaxTotalBytes int64 `koanf:"max_total_bytes"`
	// GroupCommit lets concurrent recordings of one integration share one
	// message (group commit): while one message of the integration is
	// being stored, the recordings that arrive wait together and go out as
	// the next one. Default true. With false every recording is its own
	// message (or atomic batch of messages).
	GroupCommit bool `koanf:"group_commit"`
	// GroupWindow is how long a message waits for more recordings to join
	// it. Default 0: only recordings already waiting join, and a lone
	// recording is stored at once; at most 1s.
	GroupWindow time.Duration `koanf:"group_window"`
	// Instance names this instance in status and in its connection name.
	// Default <hostname>-<pid>.
	Instance string `koanf:"instance"`
	// ConnectTimeout bounds connecting at start. Default 10s.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
}

// TLSConfig names the files of a TLS connection to the servers. Server
// certificates are always verified.
type TLSConfig struct {
	// CAFile holds the certificate authorities to trust instead of the
	// system's.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are the client certificate and key, for servers
	// that require one.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
}

// DefaultConfig returns the defaults documented on Config, without a URL.
func DefaultConfig() Config {
	t := true
	return Config{
		Stream:           "LRSBRIDGE",
		SubjectPrefix:    "lrs",
		Replicas:         3,
		Create:           &t,
		DuplicateWindow:  2 * time.Minute,
		PublishTimeout:   30 * time.Second,
		PinnedTTL:        15 * time.Second,
		AckWait:          5 * time.Minute,
		MaxAckPending:    1000,
		MaxConsumers:     10000,
		MaxQueueMessages: 1_000_000,
		MaxTotalBytes:    10 << 30,
		GroupCommit:      true,
		ConnectTimeout:   10 * time.Second,
	}
}

var (
	streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	prefixRE     = regexp.MustCompile(`^[a-z0-9-]{1,16}$`)
)

// Validate reports every setting that is wrong, naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("queue.nats.%s: "+format, append([]any{key}, args...)...))
	}
	if strings.TrimSpace(c.URL) == "" {
		bad("url", "required with queue.backend jetstream: list the NATS servers, e.g. nats://nats-1:4222,nats://nats-2:4222")
	}
	if !streamNameRE.MatchString(c.Stream) {
		bad("stream", "%q is not a stream name: use 1 to 32 letters, digits, '_' or '-'", c.Stream)
	}
	if !prefixRE.MatchString(c.SubjectPrefix) {
		bad("subject_prefix", "%q is not a subject token: use 1 to 16 lower-case letters, digits or '-'", c.SubjectPrefix)
	}
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		bad("replicas", "%d: use 1 (development), 3 or 5", c.Replicas)
	}
	if c.PinnedTTL < time.Second {
		bad("pinned_ttl", "%v: use at least 1s", c.PinnedTTL)
	}
	if c.AckWait <= c.PinnedTTL {
		bad("ack_wait", "%v must be longer than pinned_ttl (%v)", c.AckWait, c.PinnedTTL)
	}
	if c.PublishTimeout <= 0 || c.PublishTimeout >= c.DuplicateWindow {
		bad("publish_timeout", "%v must be positive and below duplicate_window (%v), so that a retried append is recognised", c.PublishTimeout, c.DuplicateWindow)
	}
	if c.MaxAckPending < 1 {
		bad("max_ack_pending", "%d: use at least delivery.parallel x delivery.batch_size", c.MaxAckPending)
	}
	if c.MaxConsumers < 1 {
		bad("max_consumers", "%d: use at least the number of integrations", c.MaxConsumers)
	}
	if c.MaxQueueMessages < 0 || c.MaxOrgMessages < 0 || c.MaxTotalBytes < 0 {
		bad("max_queue_messages", "quotas cannot be negative (0 means unlimited)")
	}
	if c.GroupWindow < 0 || c.GroupWindow > time.Second {
		bad("group_window", "%v: use 0 to 1s", c.GroupWindow)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	if c.ConnectTimeout <= 0 {
		bad("connect_timeout", "%v: must be positive", c.ConnectTimeout)
	}
	return errors.Join(errs...)
}

func (c Config) create() bool { return c.Create == nil || *c.Create }

func (c Config) instance() string {
	if c.Instance != "" {
		return c.Instance
	}
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// connectOptions builds the client options: reconnect forever, verified
// TLS when configured, credentials when given.
func (c Config) connectOptions() []nats.Option {
	opts := []nats.Option{
		nats.Name("lrsbridge/" + c.instance()),
		nats.Timeout(c.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(false),
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.TLS.CAFile != "" || c.TLS.CertFile != "" {
		opts = append(opts, nats.Secure())
	}
	if c.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	return opts
}

// redactURL removes user information from a server list for messages.
func redactURL(s string) string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if at := strings.LastIndex(u, "@"); at >= 0 {
			scheme, _, ok := strings.Cut(u, "://")
			if ok {
				u = scheme + "://" + "***@" + u[at+1:]
			} else {
				u = "***@" + u[at+1:]
			}
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}
