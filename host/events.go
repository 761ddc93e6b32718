package host

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/learningflow/lrsbridge/host/internal/normalize"
)

// Event is one thing that happened in LearningFlow, the envelope that the
// host turns into xAPI statements. Its JSON form is the LearningFlow event
// contract: field names and meanings are those of the event documentation,
// and the payload depends on Kind.
type Event struct {
	// ID is unique per event within the org. It seeds the deterministic
	// statement ids, so a re-sent event yields the same statements.
	// Required.
	ID string `json:"id"`
	// Org is the organization id; it selects the org's settings and
	// integrations. Required.
	Org string `json:"org"`
	// Kind says what happened and how Payload reads: one of EventKinds
	// ("h5p.statement", "xapi.statement", "scorm.runtime", "chat.message",
	// "chat.reply", "chat.feedback", "quiz.completed"). An unknown kind is
	// an error, not a silent drop. Required.
	Kind string `json:"kind"`
	// Time is when it happened, RFC 3339 with a zone (any zone). Optional;
	// when empty the arrival time is used.
	Time string `json:"time,omitempty"`
	// User is the LearningFlow user the event is about. Required for
	// learner events (every kind except chat.reply).
	User *User `json:"user,omitempty"`
	// Course becomes a grouping context activity under the org's base IRI.
	// Optional.
	Course *Course `json:"course,omitempty"`
	// Assignment becomes a grouping context activity under the org's base
	// IRI. Optional.
	Assignment *Assignment `json:"assignment,omitempty"`
	// Registration is the enrollment or attempt UUID. Optional; when empty
	// a stable one is derived from the org, the user and the assignment.
	Registration string `json:"registration,omitempty"`
	// Payload is the kind-specific body. Required.
	Payload json.RawMessage `json:"payload"`
}

// User is a LearningFlow user. Email and Name are used only where the org's
// identity policy allows.
type User struct {
	// ID is the opaque user id, the actor's account name. Required.
	ID string `json:"id"`
	// Email is the user's address, used by the "mbox" and "mbox_sha1sum"
	// identity policies.
	Email string `json:"email,omitempty"`
	// Name is the display name, sent only when the org sends names.
	Name string `json:"name,omitempty"`
}

// Course is a LearningFlow course.
type Course struct {
	// ID identifies the course within the org. Required when Course is
	// set.
	ID string `json:"id"`
	// Title is the course title, the activity's name.
	Title string `json:"title,omitempty"`
	// Lang is the RFC 5646 tag of the course language; it becomes
	// context.language and the language of names.
	Lang string `json:"lang,omitempty"`
}

// Assignment is a LearningFlow assignment within a course.
type Assignment struct {
	// ID identifies the assignment within the org. Required when
	// Assignment is set.
	ID string `json:"id"`
	// Title is the assignment title, the activity's name.
	Title string `json:"title,omitempty"`
}

// ErrDuplicateKey is wrapped by the error of decoding an event whose
// envelope (or user, course or assignment object) holds the same key twice,
// also when the keys differ only in case: readers that keep the first value
// and readers that keep the last would see different events, so an
// authorization layer could check one organization while the host records
// for another.
var ErrDuplicateKey = normalize.ErrDuplicateKey

// UnmarshalJSON decodes the JSON form of an event, refusing duplicate keys
// with an error wrapping ErrDuplicateKey that names the key. The payload is
// checked by the normalizer of the event's kind.
func (ev *Event) UnmarshalJSON(b []byte) error {
	var in normalize.Event
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*ev = Event{
		ID: in.ID, Org: in.Org, Kind: in.Kind, Time: in.Time,
		Registration: in.Registration, Payload: in.Payload,
	}
	if in.User != nil {
		u := User(*in.User)
		ev.User = &u
	}
	if in.Course != nil {
		c := Course(*in.Course)
		ev.Course = &c
	}
	if in.Assignment != nil {
		a := Assignment(*in.Assignment)
		ev.Assignment = &a
	}
	return nil
}

// internal returns ev as the normalizer takes it.
func (ev Event) internal() normalize.Event {
	out := normalize.Event{
		ID: ev.ID, Org: ev.Org, Kind: ev.Kind, Time: ev.Time,
		Registration: ev.Registration, Payload: ev.Payload,
	}
	if ev.User != nil {
		u := normalize.User(*ev.User)
		out.User = &u
	}
	if ev.Course != nil {
		c := normalize.Course(*ev.Course)
		out.Course = &c
	}
	if ev.Assignment != nil {
		a := normalize.Assignment(*ev.Assignment)
		out.Assignment = &a
	}
	return out
}

// EventErrorKind classifies an *EventError.
type EventErrorKind int

// The kinds of EventError.
const (
	// EventInvalid: the event or one of the statements it yields is not
	// valid; re-sending the same event fails the same way.
	EventInvalid EventErrorKind = iota + 1
	// EventUnknownKind: the event's kind is not one the host knows.
	EventUnknownKind
)

// String returns "invalid event" or "unknown kind".
func (k EventErrorKind) String() string {
	switch k {
	case EventInvalid:
		return "invalid event"
	case EventUnknownKind:
		return "unknown kind"
	}
	return "error kind " + strconv.Itoa(int(k))
}

// EventError reports an event that was refused. Retrieve it with
// errors.As. Its message names the event id, the field and the problem; it
// never quotes chat text, email addresses or names.
type EventError struct {
	// EventID is the id of the refused event.
	EventID string
	// Kind says whether the event is invalid or of an unknown kind.
	Kind EventErrorKind
	// Field is the JSON path of the offending value in the event, for
	// example "payload.cmi.score.raw", "user.email" or
	// "payload.statements[1].verb.id". SCORM CMI paths keep SCORM's dotted
	// indexes ("payload.cmi.interactions.0.id"); other arrays use [i].
	Field string
	// Err is the problem. It may be ErrUnknownKind or an xapi.Problems,
	// which errors.Is and errors.As find through EventError.
	Err error
}

// Error returns the message of e.
func (e *EventError) Error() string {
	msg := "event " + strconv.Quote(e.EventID) + ": "
	if e.Field != "" {
		msg += e.Field + ": "
	}
	return msg + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *EventError) Unwrap() error { return e.Err }

// publicEventError returns the *EventError for a refusal of the
// normalizer, or nil when err is not one.
func publicEventError(err error) *EventError {
	var ne *normalize.EventError
	if !errors.As(err, &ne) {
		return nil
	}
	return &EventError{EventID: ne.EventID, Kind: EventErrorKind(ne.Kind), Field: ne.Field, Err: ne.Err}
}

// ErrUnknownKind is wrapped by the *EventError of an event of unknown kind.
var ErrUnknownKind = normalize.ErrUnknownKind

// EventKinds lists the event kinds the host understands.
var EventKinds = normalize.Kinds
