package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

// DefaultRotateBytes is the size at which a day's file is closed and a new
// part started when the configuration does not say.
const DefaultRotateBytes int64 = 128 << 20

// Config is the configuration of an archive sink instance.
type Config struct {
	// Dir is the archive directory, an absolute path (ParseConfig resolves a
	// relative one against the plugin's working directory, which is the
	// host's). Each organization gets a subdirectory in it. Required.
	Dir string `koanf:"dir"`
	// RotateBytes is the size in bytes at which a day's file is closed and a
	// new part of the same day started; 0 turns size rotation off. A single
	// statement larger than RotateBytes gets a part of its own. Default
	// DefaultRotateBytes.
	RotateBytes int64 `koanf:"rotate_bytes"`
	// Gzip compresses closed files. Default true.
	Gzip bool `koanf:"gzip"`
}

// DefaultConfig returns the configuration defaults (Dir is left empty).
func DefaultConfig() Config {
	return Config{RotateBytes: DefaultRotateBytes, Gzip: true}
}

// Validate checks c and reports every problem as a *sdk.ConfigError.
func (c Config) Validate() error {
	var fields []sdk.FieldError
	switch {
	case c.Dir == "":
		fields = append(fields, sdk.FieldError{Field: "dir", Message: "is required"})
	case !filepath.IsAbs(c.Dir):
		fields = append(fields, sdk.FieldError{Field: "dir", Message: "must be an absolute path"})
	}
	if c.RotateBytes < 0 {
		fields = append(fields, sdk.FieldError{Field: "rotate_bytes", Message: "must not be negative"})
	}
	if len(fields) > 0 {
		return &sdk.ConfigError{Fields: fields}
	}
	return nil
}

// settings is the configuration map as sdk.DecodeConfig reads it.
type settings struct {
	Dir         string       `config:"dir"`
	RotateBytes sdk.ByteSize `config:"rotate_bytes"`
	Gzip        bool         `config:"gzip"`
}

// ParseConfig reads a Config from the opaque configuration map a host sends,
// with sdk.DecodeConfig: "dir" (string, required; relative to the working
// directory; when it exists it must be a directory), "rotate_bytes" (a whole
// number of bytes or a size such as "64MiB", optional) and "gzip" (bool,
// default true). Unknown keys are errors. Problems are reported together as
// a *sdk.ConfigError.
func ParseConfig(m map[string]any) (Config, error) {
	def := DefaultConfig()
	raw := settings{RotateBytes: sdk.ByteSize(def.RotateBytes), Gzip: def.Gzip}
	var fields []sdk.FieldError
	var derr *sdk.ConfigError
	if errors.As(sdk.DecodeConfig(m, &raw), &derr) {
		fields = append(fields, derr.Fields...)
	}
	bad := func(field, msg string) { fields = append(fields, sdk.FieldError{Field: field, Message: msg}) }
	c := Config{Dir: raw.Dir, RotateBytes: int64(raw.RotateBytes), Gzip: raw.Gzip}
	if c.Dir != "" && !filepath.IsAbs(c.Dir) {
		// The host starts plugins in its own working directory, so
		// "./archive" in its configuration means what it says.
		abs, err := filepath.Abs(c.Dir)
		if err != nil {
			bad("dir", "cannot be resolved to an absolute path")
		} else {
			c.Dir = abs
		}
	}
	if c.Dir != "" && filepath.IsAbs(c.Dir) && sdk.CheckSettingPath(c.Dir, true) != nil {
		bad("dir", sdk.ErrSettingPath.Error())
	}
	if err := c.Validate(); err != nil {
		var ce *sdk.ConfigError
		if errors.As(err, &ce) {
			for _, f := range ce.Fields {
				if !slices.ContainsFunc(fields, func(g sdk.FieldError) bool { return g.Field == f.Field }) {
					fields = append(fields, f)
				}
			}
		}
	}
	if len(fields) > 0 {
		return Config{}, &sdk.ConfigError{Fields: fields}
	}
	return c, nil
}

// Option configures New and NewProvider.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock sets the clock that decides a statement's UTC day. Default
// time.Now. When several instances share an organization's archive, the
// clock of the first one opened is used.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Sink is an archive sink instance: it appends one organization's statements
// to its archive. It is safe for concurrent use; concurrent Deliver calls are
// serialised.
type Sink struct {
	st        *store
	closeOnce sync.Once
	closeErr  error
}

var _ sdk.Sink = (*Sink)(nil)

// New opens the archive of org in cfg.Dir for appending, repairing whatever
// an earlier crash left behind (see the package documentation). Instances of
// one process that archive the same organization into the same directory
// share one writer; another process holding it open makes New fail with
// ErrLocked.
func New(org string, cfg Config, opts ...Option) (*Sink, error) {
	if org == "" {
		return nil, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "org", Message: "is required"}}}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	st, err := acquire(org, cfg, o.now)
	if err != nil {
		return nil, err
	}
	return &Sink{st: st}, nil
}

// Deliver appends the statements of req to today's file and fsyncs it before
// it returns. A statement whose id is already in the archive for the same
// UTC day (or earlier in the batch) gets an AlreadyStored verdict and is not
// written again; a statement whose JSON is not a single object carrying its
// id gets a permanent verdict. A nil error means every other statement is
// durable. The context is checked before writing starts; once the batch is
// being written and synced, Deliver finishes it.
func (s *Sink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	v, err := s.st.deliver(ctx, req.Statements)
	if err != nil {
		return sdk.DeliverResponse{}, err
	}
	return sdk.DeliverResponse{Verdicts: v}, nil
}

// Close releases the instance. The active file stays open for appending
// when the archive is opened again; it is closed and compressed when its day
// is over. Close is idempotent.
func (s *Sink) Close(context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.st.release() })
	return s.closeErr
}

// NewProvider returns the provider the archive plugin serves: it configures
// an instance per organization from the host's configuration map (see
// ParseConfig).
func NewProvider(opts ...Option) sdk.Provider {
	return sdk.ProviderFunc(func(ctx context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
		cfg, err := ParseConfig(req.Config)
		if err != nil {
			return nil, err
		}
		s, err := New(req.Org, cfg, opts...)
		if err != nil {
			return nil, fmt.Errorf("configure archive instance %s: %w", req.Instance, err)
		}
		return s, nil
	})
}

var _ sdk.ConnectionTester = (*Sink)(nil)

// TestConnection checks that the organization's archive directory can be
// written (it creates, fsyncs and removes a probe file) and that its
// manifest can be read. It archives nothing.
func (s *Sink) TestConnection(context.Context) (sdk.Report, error) {
	st := s.st
	write := sdk.Step{Name: "dir", Title: "Write to the archive directory", Status: sdk.StepPassed,
		Message: "the archive directory can be written"}
	if err := probe(st.dir); err != nil {
		write.Status, write.Message = sdk.StepFailed, "the archive directory cannot be written: "+errText(err)
	}
	man := sdk.Step{Name: "manifest", Title: "Read the manifest", Status: sdk.StepPassed}
	if m, err := readManifest(st.dir); err != nil {
		man.Status, man.Message = sdk.StepFailed, "the manifest cannot be read: "+errText(err)
	} else {
		man.Message = fmt.Sprintf("the archive holds %d closed files", len(m.Files))
	}
	return sdk.Report{Steps: []sdk.Step{write, man}}, nil
}

// probe creates, fsyncs and removes a temporary file in dir.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*"+tmpSuffix)
	if err != nil {
		return err
	}
	_, err = f.WriteString("probe\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}

// errText describes an error without the file path it may carry.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
