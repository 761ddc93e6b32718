package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// Kind says what happened and how Payload reads: "h5p.statement",
	// "xapi.statement", "scorm.runtime", "chat.message", "chat.reply",
	// "chat.feedback" or "quiz.completed". An unknown kind is an error, not
	// a silent drop. Required.
	Kind string `json:"kind"`
	// Time is when it happened, RFC 3339 with a zone (any zone). Optional;
	// when empty the arrival time is used (see the package documentation
	// for what that means for re-sent events).
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

// Event kinds.
const (
	KindH5PStatement  = "h5p.statement"
	KindXAPIStatement = "xapi.statement"
	KindSCORMRuntime  = "scorm.runtime"
	KindChatMessage   = "chat.message"
	KindChatReply     = "chat.reply"
	KindChatFeedback  = "chat.feedback"
	KindQuizCompleted = "quiz.completed"
)

// Kinds lists the event kinds the normalizer knows, in a stable order.
var Kinds = []string{
	KindH5PStatement, KindXAPIStatement, KindSCORMRuntime,
	KindChatMessage, KindChatReply, KindChatFeedback, KindQuizCompleted,
}

// ErrUnknownKind is wrapped by the *EventError returned for an event whose
// kind the normalizer does not know.
var ErrUnknownKind = errors.New("unknown event kind")

// ErrVoiding is wrapped by the *EventError returned for an xapi.statement
// event that holds a voiding statement. Content may not void statements; a
// proxy answers such a request with 403 Forbidden.
var ErrVoiding = errors.New("voiding statements are not accepted")

// ErrorKind classifies an *EventError.
type ErrorKind int

// The kinds of EventError.
const (
	// InvalidEvent: the event or one of the statements it yields is not
	// valid; re-sending the same event fails the same way.
	InvalidEvent ErrorKind = iota + 1
	// UnknownKind: the event's kind is not one the normalizer knows.
	UnknownKind
)

// String returns "invalid event" or "unknown kind".
func (k ErrorKind) String() string {
	switch k {
	case InvalidEvent:
		return "invalid event"
	case UnknownKind:
		return "unknown kind"
	}
	return "error kind " + strconv.Itoa(int(k))
}

// EventError reports an event that cannot be turned into valid statements.
// Retrieve it with errors.As. Its message names the event id, the field and
// the problem; it never quotes chat text, email addresses or names.
type EventError struct {
	// EventID is the id of the refused event.
	EventID string
	// Kind says whether the event is invalid or of an unknown kind.
	Kind ErrorKind
	// Field is the JSON path of the offending value in the event, for
	// example "payload.cmi.score.raw", "user.email" or
	// "payload.statements[1].verb.id". SCORM CMI paths keep SCORM's dotted
	// indexes ("payload.cmi.interactions.0.id"); other arrays use [i].
	Field string
	// Err is the problem. It may be ErrUnknownKind, ErrVoiding or an
	// xapi.Problems, which errors.Is and errors.As find through EventError.
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

// ErrDuplicateKey is wrapped by the error of decoding an event envelope
// that holds the same key twice: readers that keep the first value and
// readers that keep the last would see different events (an auth layer
// could check one org while the host records for another).
var ErrDuplicateKey = errors.New("duplicate key")

// UnmarshalJSON decodes the JSON form of an event. It refuses an envelope,
// or a user, course or assignment object in it, that holds a key twice
// (ignoring case, as encoding/json does), with an error wrapping
// ErrDuplicateKey that names the key. The payload is the kind's to check.
func (e *Event) UnmarshalJSON(b []byte) error {
	if err := checkDuplicates(b, "", true); err != nil {
		return err
	}
	type plain Event // without this method
	return json.Unmarshal(b, (*plain)(e))
}

// envelopeObjects are the members of the envelope that are objects checked
// for duplicate keys themselves.
var envelopeObjects = map[string]bool{"user": true, "course": true, "assignment": true}

// checkDuplicates reports the first key that appears twice in the JSON
// object b (path names it in errors), and, when nested, in the envelope's
// user, course and assignment objects. Anything that is not an object is
// left to the decoder to judge.
func checkDuplicates(b []byte, path string, nested bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		// encoding/json matches keys to fields without regard to case:
		// "org" and "ORG" are the same key to it.
		fold := strings.ToLower(strings.ToUpper(key))
		if seen[fold] {
			return fmt.Errorf("event: %s: %w (keys differing only in case count as the same)", strconv.Quote(field), ErrDuplicateKey)
		}
		seen[fold] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if nested && envelopeObjects[key] {
			if err := checkDuplicates(raw, field, false); err != nil {
				return err
			}
		}
	}
	return nil
}
