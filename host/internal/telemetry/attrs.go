package telemetry

import (
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys, in OpenTelemetry semantic-convention style.
const (
	// KeyOrg is the organization id.
	KeyOrg = attribute.Key("lrsbridge.org")
	// KeyIntegration is the id of an organization's integration (its sink
	// instance).
	KeyIntegration = attribute.Key("lrsbridge.integration")
	// KeySink is the sink plugin name ("lrs", "archive", ...).
	KeySink = attribute.Key("lrsbridge.sink")
	// KeyEventKind is the kind of a LearningFlow event.
	KeyEventKind = attribute.Key("lrsbridge.event.kind")
	// KeyStatementCount is the number of statements of a record or batch
	// (spans only).
	KeyStatementCount = attribute.Key("lrsbridge.statement.count")
	// KeyDeadLetterReason says why statements were dead-lettered:
	// "rejected" or "expired".
	KeyDeadLetterReason = attribute.Key("lrsbridge.dead_letter.reason")
	// KeyIntegrationState is the state of an integration ("active",
	// "retrying", "paused_auth", ...).
	KeyIntegrationState = attribute.Key("lrsbridge.integration.state")
	// KeyBreakerState is the state of a circuit breaker: "closed", "open" or
	// "half_open".
	KeyBreakerState = attribute.Key("lrsbridge.breaker.state")
	// KeyPlugin is the name of a sink plugin (the plugins configuration key).
	KeyPlugin = attribute.Key("lrsbridge.plugin")
	// KeyPluginExit says how a plugin process ended: "shutdown" when the
	// host stopped it, "crash" otherwise.
	KeyPluginExit = attribute.Key("lrsbridge.plugin.exit")
	// KeyErrorType is the class of an error, as in OpenTelemetry's
	// semantic conventions.
	KeyErrorType = attribute.Key("error.type")
)

// Other is the attribute value that stands for every organization (and its
// integrations) folded by the cardinality limit, and for any other value
// past a limit.
const Other = "_other"

// Mode says which organizations keep their own attribute values on metrics.
type Mode string

// The attribute modes.
const (
	// ModeOff leaves the organization and integration attributes out of
	// every metric: one series per sink for the whole host.
	ModeOff Mode = "off"
	// ModeLimited keeps the values of the allow-listed organizations and of
	// the first Limit others seen, and folds the rest into [Other].
	ModeLimited Mode = "limited"
	// ModeAll keeps every organization's values: one series per
	// integration, for hosts with few organizations.
	ModeAll Mode = "all"
)

// DefaultLimit is the default number of organizations that keep their own
// attribute values in [ModeLimited], besides the allow list.
const DefaultLimit = 100

// Attributes controls the organization and integration attributes of
// metrics, the one source of high cardinality. The zero value is the
// default: [ModeLimited] with [DefaultLimit] organizations.
type Attributes struct {
	// Mode is ModeOff, ModeLimited or ModeAll. Empty means ModeLimited.
	Mode Mode `koanf:"mode"`
	// Limit is the number of organizations, besides Allow, that keep their
	// own values in ModeLimited, in the order the host first records
	// something for them. Zero means DefaultLimit.
	Limit int `koanf:"limit"`
	// Allow lists organizations that always keep their own values in
	// ModeLimited (for example the largest customers).
	Allow []string `koanf:"allow"`
}

// Validate reports a mode that does not exist or a negative limit.
func (a Attributes) Validate() error {
	switch a.Mode {
	case "", ModeOff, ModeLimited, ModeAll:
	default:
		return fmt.Errorf("telemetry attributes mode is %q, want %q, %q or %q", a.Mode, ModeOff, ModeLimited, ModeAll)
	}
	if a.Limit < 0 {
		return fmt.Errorf("telemetry attributes limit is %d, want 0 (default %d) or more", a.Limit, DefaultLimit)
	}
	return nil
}

// folder decides which attribute values an organization's metrics carry.
type folder struct {
	mode    Mode
	allow   map[string]bool
	kept    *valueLimit // organizations past the allow list that keep their values
	orgSets sync.Map    // org -> []metric.RecordOption of orgOption
}

func newFolder(a Attributes) *folder {
	limit := a.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	f := &folder{mode: a.Mode, allow: make(map[string]bool, len(a.Allow)), kept: newValueLimit(limit)}
	if f.mode == "" {
		f.mode = ModeLimited
	}
	for _, org := range a.Allow {
		f.allow[org] = true
	}
	return f
}

// keeps reports whether org keeps its own attribute values, admitting it
// if the limit leaves room. Other is never admitted: it stands for the
// organizations the host does not know, and takes no place in the limit.
func (f *folder) keeps(org string) bool {
	if org == Other {
		return false
	}
	switch f.mode {
	case ModeAll:
		return true
	case ModeOff:
		return false
	}
	return f.allow[org] || f.kept.admit(org)
}

// org returns the organization attributes of a metric: none in ModeOff,
// the organization or Other otherwise.
func (f *folder) org(org string) []attribute.KeyValue {
	if f.mode == ModeOff {
		return nil
	}
	if !f.keeps(org) {
		org = Other
	}
	return []attribute.KeyValue{KeyOrg.String(org)}
}

// orgOption returns the organization attributes of org as a measurement
// option, cached per organization so that the hot path neither locks nor
// allocates: an entry of about 200 bytes per organization seen (none in
// ModeOff), pointing to one of the Limit+1 attribute sets.
func (f *folder) orgOption(org string) []metric.RecordOption {
	if f.mode == ModeOff {
		return noAttributes
	}
	if o, ok := f.orgSets.Load(org); ok {
		return o.([]metric.RecordOption)
	}
	var set attribute.Set
	if attrs := f.org(org); len(attrs) > 0 {
		set = attribute.NewSet(attrs...)
	}
	o, _ := f.orgSets.LoadOrStore(org, []metric.RecordOption{metric.WithAttributeSet(set)})
	return o.([]metric.RecordOption)
}

// noAttributes measures without attributes.
var noAttributes = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet())}

// integration returns the organization and integration attributes of a
// metric about one integration.
func (f *folder) integration(org, id string) []attribute.KeyValue {
	if f.mode == ModeOff {
		return nil
	}
	if !f.keeps(org) {
		org, id = Other, Other
	}
	return []attribute.KeyValue{KeyOrg.String(org), KeyIntegration.String(id)}
}

// valueLimit caps the distinct values of an attribute that comes from
// outside the host (event kinds are chosen by the event's sender): past
// max distinct values every new one is recorded as Other.
// maxValueLen is the longest value a valueLimit keeps.
const maxValueLen = 64

type valueLimit struct {
	max  int
	mu   sync.Mutex
	seen map[string]bool
}

func newValueLimit(max int) *valueLimit {
	return &valueLimit{max: max, seen: make(map[string]bool)}
}

// value returns v, or Other if v is too long or past the limit.
func (l *valueLimit) value(v string) string {
	if len(v) > maxValueLen || !l.admit(v) {
		return Other
	}
	return v
}

// admit reports whether v is one of the first max distinct values seen.
func (l *valueLimit) admit(v string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[v] {
		return true
	}
	if len(l.seen) >= l.max {
		return false
	}
	l.seen[v] = true
	return true
}

// with returns a new slice of attrs followed by more; attrs is never
// written to, so shared attribute slices stay as they are.
func with(attrs []attribute.KeyValue, more ...attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs)+len(more))
	return append(append(out, attrs...), more...)
}
