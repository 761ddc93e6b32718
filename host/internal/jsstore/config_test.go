package jsstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
)

// TestConfigKoanf loads queue.nats keys as the host loads its file: the
// struct hangs under the host's queue section.
func TestConfigKoanf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lrsbridge.yaml")
	yml := `queue:
  nats:
    url: nats://127.0.0.1:4222,nats://127.0.0.1:4223
    creds_file: /etc/lrsbridge/nats.creds
    tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}
    stream: LF
    subject_prefix: lf
    replicas: 5
    create: false
    pinned_ttl: 20s
    ack_wait: 10m
    max_queue_messages: 5000
    group_commit: true
    instance: app-7
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	k := koanf.New(".")
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	var c struct {
		Queue struct {
			NATS jsstore.Config `koanf:"nats"`
		} `koanf:"queue"`
	}
	c.Queue.NATS = jsstore.DefaultConfig()
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		t.Fatal(err)
	}
	want := jsstore.DefaultConfig()
	no := false
	want.URL = "nats://127.0.0.1:4222,nats://127.0.0.1:4223"
	want.CredsFile = "/etc/lrsbridge/nats.creds"
	want.TLS = jsstore.TLSConfig{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}
	want.Stream, want.SubjectPrefix, want.Replicas, want.Create = "LF", "lf", 5, &no
	want.PinnedTTL, want.AckWait, want.MaxQueueMessages = 20*time.Second, 10*time.Minute, 5000
	want.GroupCommit, want.Instance = true, "app-7"
	if diff := cmp.Diff(want, c.Queue.NATS); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	if err := c.Queue.NATS.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := jsstore.DefaultConfig()
	ok.URL = "nats://127.0.0.1:4222"
	tests := []struct {
		name   string
		change func(*jsstore.Config)
		want   string // a key named in the error; "" for valid
	}{
		{"defaults with a URL", func(*jsstore.Config) {}, ""},
		{"no URL", func(c *jsstore.Config) { c.URL = " " }, "queue.nats.url"},
		{"bad stream name", func(c *jsstore.Config) { c.Stream = "a.b" }, "queue.nats.stream"},
		{"bad prefix", func(c *jsstore.Config) { c.SubjectPrefix = "Lrs.x" }, "queue.nats.subject_prefix"},
		{"two replicas", func(c *jsstore.Config) { c.Replicas = 2 }, "queue.nats.replicas"},
		{"short pinned ttl", func(c *jsstore.Config) { c.PinnedTTL = time.Millisecond }, "queue.nats.pinned_ttl"},
		{"ack wait below pinned ttl", func(c *jsstore.Config) { c.AckWait = c.PinnedTTL }, "queue.nats.ack_wait"},
		{"publish timeout past the duplicate window", func(c *jsstore.Config) { c.PublishTimeout = 3 * time.Minute }, "queue.nats.publish_timeout"},
		{"negative quota", func(c *jsstore.Config) { c.MaxOrgMessages = -1 }, "queue.nats.max_"},
		{"cert without key", func(c *jsstore.Config) { c.TLS.CertFile = "c.pem" }, "queue.nats.tls"},
		{"no consumers", func(c *jsstore.Config) { c.MaxConsumers = 0 }, "queue.nats.max_consumers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestOpenErrors: a bad URL and a missing stream with create off are
// reported in plain words without the URL's password.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	cfg := testConfig("nats://user:s3cret@127.0.0.1:1")
	cfg.ConnectTimeout = time.Second
	_, err := jsstore.Open(t.Context(), cfg)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "connect to NATS") {
		t.Errorf("Open with an unreachable server = %v, want a connect error without the password", err)
	}
}
