package host

import (
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
)

// NATSConfig configures the NATS JetStream servers of the jetstream
// backend (queue.backend: jetstream). Its koanf tags are the keys under
// queue.nats (for example queue.nats.url, or LRSBRIDGE_QUEUE__NATS__URL in
// the environment). [DefaultConfig] sets the defaults stated on each field.
type NATSConfig struct {
	// URL lists the servers, comma-separated
	// ("nats://nats-1:4222,nats://nats-2:4222"). Required with the
	// jetstream backend. It may carry user:password, which is never shown
	// in errors or logs.
	URL string `koanf:"url"`
	// CredsFile is a NATS credentials file (JWT and nkey seed). Optional.
	CredsFile string `koanf:"creds_file"`
	// TLS configures a verified TLS connection. Setting any file requires
	// TLS; a tls:// URL does too.
	TLS NATSTLSConfig `koanf:"tls"`
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
	// Create creates or updates the streams and buckets at start (nil or
	// true, the default). With false they must exist (managed by an
	// operator) and are verified: the host refuses to start when one is
	// missing or set up differently.
	Create *bool `koanf:"create"`
	// DuplicateWindow is the queue stream's deduplication window: the
	// retries of one recording must fit in it. Default 2m.
	DuplicateWindow time.Duration `koanf:"duplicate_window"`
	// PublishTimeout bounds how long recording retries an unanswered
	// publish before it fails with an "outcome unknown" error. Default
	// 30s; must be below DuplicateWindow.
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
	// Instance names this instance in status, in the delivery counts it
	// saves and in its connection name; it must differ between instances
	// and stay the same across restarts of one. Default: an id made at the
	// first start and kept in data_dir/instance-id (the connection is then
	// named <hostname>-<pid>).
	Instance string `koanf:"instance"`
	// ConnectTimeout bounds connecting at start. Default 10s.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
}

// NATSTLSConfig names the files of a TLS connection to the NATS servers
// (queue.nats.tls). Server certificates are always verified.
type NATSTLSConfig struct {
	// CAFile holds the certificate authorities to trust instead of the
	// system's.
	CAFile string `koanf:"ca_file"`
	// CertFile is the client certificate, for servers that require one;
	// it goes with KeyFile.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the private key of CertFile.
	KeyFile string `koanf:"key_file"`
}

// defaultNATSConfig returns the defaults documented on NATSConfig.
func defaultNATSConfig() NATSConfig {
	d := jsstore.DefaultConfig()
	return NATSConfig{
		URL:              d.URL,
		CredsFile:        d.CredsFile,
		TLS:              NATSTLSConfig(d.TLS),
		Stream:           d.Stream,
		SubjectPrefix:    d.SubjectPrefix,
		Replicas:         d.Replicas,
		Create:           d.Create,
		DuplicateWindow:  d.DuplicateWindow,
		PublishTimeout:   d.PublishTimeout,
		PinnedTTL:        d.PinnedTTL,
		AckWait:          d.AckWait,
		MaxAckPending:    d.MaxAckPending,
		MaxConsumers:     d.MaxConsumers,
		MaxQueueMessages: d.MaxQueueMessages,
		MaxOrgMessages:   d.MaxOrgMessages,
		MaxTotalBytes:    d.MaxTotalBytes,
		GroupCommit:      d.GroupCommit,
		GroupWindow:      d.GroupWindow,
		Instance:         d.Instance,
		ConnectTimeout:   d.ConnectTimeout,
	}
}

// internal returns the configuration of the jetstream store.
func (c NATSConfig) internal() jsstore.Config {
	return jsstore.Config{
		URL:              c.URL,
		CredsFile:        c.CredsFile,
		TLS:              jsstore.TLSConfig(c.TLS),
		Stream:           c.Stream,
		SubjectPrefix:    c.SubjectPrefix,
		Replicas:         c.Replicas,
		Create:           c.Create,
		DuplicateWindow:  c.DuplicateWindow,
		PublishTimeout:   c.PublishTimeout,
		PinnedTTL:        c.PinnedTTL,
		AckWait:          c.AckWait,
		MaxAckPending:    c.MaxAckPending,
		MaxConsumers:     c.MaxConsumers,
		MaxQueueMessages: c.MaxQueueMessages,
		MaxOrgMessages:   c.MaxOrgMessages,
		MaxTotalBytes:    c.MaxTotalBytes,
		GroupCommit:      c.GroupCommit,
		GroupWindow:      c.GroupWindow,
		Instance:         c.Instance,
		ConnectTimeout:   c.ConnectTimeout,
	}
}
