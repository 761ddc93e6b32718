package sdk

import (
	"errors"
	"strings"
	"time"
)

// Sentinel errors a host branches on.
var (
	// ErrPluginExited reports that the plugin process serving a sink exited
	// (crashed, was killed, or shut down) before or during a call. The
	// process does not come back: the host starts a new one and configures
	// its instances again. Calls fail with it promptly, they do not hang.
	ErrPluginExited = errors.New("sdk: plugin process exited")

	// ErrUnknownInstance reports a call for an instance handle that the
	// plugin process does not know: it was never configured, it was closed,
	// or the process was restarted. The host configures the instance again.
	ErrUnknownInstance = errors.New("sdk: unknown sink instance")

	// ErrSinkPanicked reports that the sink's code panicked during a call.
	// The plugin process recovers and keeps serving, so the error is
	// retryable, but a sink that keeps panicking needs its author.
	ErrSinkPanicked = errors.New("sdk: sink panicked")
)

// Class is the class of a delivery error: what the host should do about it.
// Classes survive the plugin boundary.
type Class int

// The error classes. Wrap an error with [Permanent], [RetryAfter],
// [Unauthenticated] or [Forbidden] to classify it; an unclassified error is
// retryable.
const (
	// ClassRetryable: try again later (the default). An error made by
	// [RetryAfter] is retryable and also carries the delay to wait.
	ClassRetryable Class = iota
	// ClassPermanent: the statement (or batch) can never be delivered as
	// it is; retrying does not help.
	ClassPermanent
	// ClassUnauthenticated: the destination rejected the credentials of the
	// instance (HTTP 401); the host pauses the instance until its
	// configuration changes.
	ClassUnauthenticated
	// ClassForbidden: the credentials are valid but not permitted to do
	// this (HTTP 403); the host pauses the instance too.
	ClassForbidden
)

// String returns the lower-case name of c.
func (c Class) String() string {
	switch c {
	case ClassRetryable:
		return "retryable"
	case ClassPermanent:
		return "permanent"
	case ClassUnauthenticated:
		return "unauthenticated"
	case ClassForbidden:
		return "forbidden"
	}
	return "unknown"
}

// classError is an error with a class. The outermost classError in a chain
// decides the class of the chain.
type classError struct {
	err      error
	class    Class
	delay    time.Duration
	hasDelay bool
}

func (e *classError) Error() string { return e.err.Error() }
func (e *classError) Unwrap() error { return e.err }

func classify(err error, c Class) *classError {
	if err == nil {
		err = errors.New(c.String() + " error")
	}
	return &classError{err: err, class: c}
}

// Permanent marks err as permanent: the statement can never be delivered as
// it is, for example because the LRS answered 400 Bad Request. The message of
// err should carry the reason (the LRS's message). A nil err becomes a
// generic permanent error.
func Permanent(err error) error { return classify(err, ClassPermanent) }

// IsPermanent reports whether err is classified permanent. A *[ConfigError]
// is permanent too.
func IsPermanent(err error) bool { return ClassOf(err) == ClassPermanent }

// RetryAfter marks err as retryable no sooner than d from now, for example
// after an HTTP 429 or 503 answer with a Retry-After header. A negative d
// counts as zero. A nil err becomes a generic retryable error.
func RetryAfter(err error, d time.Duration) error {
	e := classify(err, ClassRetryable)
	e.delay = max(d, 0)
	e.hasDelay = true
	return e
}

// RetryDelay returns the delay of an error made by [RetryAfter], and whether
// there is one. Only the outermost classification of err counts.
func RetryDelay(err error) (time.Duration, bool) {
	var ce *classError
	if errors.As(err, &ce) && ce.hasDelay {
		return ce.delay, true
	}
	return 0, false
}

// Unauthenticated marks err as a rejection of the instance's credentials
// (HTTP 401). A nil err becomes a generic error of that class.
func Unauthenticated(err error) error { return classify(err, ClassUnauthenticated) }

// Forbidden marks err as a refusal for valid credentials that are not
// permitted to do what was asked (HTTP 403). A nil err becomes a generic
// error of that class.
func Forbidden(err error) error { return classify(err, ClassForbidden) }

// IsAuth reports whether err is classified [ClassUnauthenticated] or
// [ClassForbidden].
func IsAuth(err error) bool {
	c := ClassOf(err)
	return c == ClassUnauthenticated || c == ClassForbidden
}

// ClassOf returns the class of err: the class of the outermost classified
// error in its chain, [ClassPermanent] for a *[ConfigError], and
// [ClassRetryable] for anything else (including nil).
func ClassOf(err error) Class {
	var ce *classError
	var cfg *ConfigError
	switch {
	case errors.As(err, &ce):
		return ce.class
	case errors.As(err, &cfg):
		return ClassPermanent
	}
	return ClassRetryable
}

// ConfigError reports invalid configuration of an instance, field by field.
// [Provider.Configure] returns it; it survives the plugin boundary with all
// its fields.
type ConfigError struct {
	// Fields lists the problems, one per field and message.
	Fields []FieldError
}

// FieldError is a problem with one configuration field.
type FieldError struct {
	// Field is the configuration key, for example "endpoint".
	Field string
	// Message says what is wrong in words an organization admin
	// understands. It never repeats a secret value.
	Message string
}

// Error lists the field problems.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid sink configuration")
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if f.Field != "" {
			b.WriteString(f.Field)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}

// Add appends a problem with field to e.
func (e *ConfigError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Err returns e if it holds any problem and nil otherwise, so that a
// validator can collect problems and return e.Err().
func (e *ConfigError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

func errorsIsExited(err error) bool { return errors.Is(err, ErrPluginExited) }
