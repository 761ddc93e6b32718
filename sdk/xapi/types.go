package xapi

import (
	"encoding/json"
	"time"
)

// Version is an xAPI specification version that statements are validated and
// encoded for.
type Version string

// The xAPI versions lrsbridge supports.
const (
	// V103 is xAPI 1.0.3.
	V103 Version = "1.0.3"
	// V200 is xAPI 2.0 (IEEE 9274.1.1), sent on the wire as "2.0.0".
	V200 Version = "2.0.0"
)

// ParseVersion returns the Version named by s: "1.0.3" or "2.0.0" ("2.0" is
// accepted as a synonym of "2.0.0").
func ParseVersion(s string) (Version, error) {
	switch s {
	case string(V103):
		return V103, nil
	case string(V200), "2.0":
		return V200, nil
	}
	return "", &VersionError{Value: s}
}

// VersionError reports an xAPI version lrsbridge does not support.
type VersionError struct {
	// Value is the version that was asked for.
	Value string
}

// Error returns the message of e.
func (e *VersionError) Error() string {
	return "unsupported xapi version " + quote(e.Value) + " (want 1.0.3 or 2.0.0)"
}

// Object type names, the values of the objectType property.
const (
	ObjectTypeActivity     = "Activity"
	ObjectTypeAgent        = "Agent"
	ObjectTypeGroup        = "Group"
	ObjectTypeStatementRef = "StatementRef"
	ObjectTypeSubStatement = "SubStatement"
	ObjectTypeContextAgent = "contextAgent"
	ObjectTypeContextGroup = "contextGroup"
)

// VerbVoided is the reserved verb of voiding statements.
const VerbVoided = "http://adlnet.gov/expapi/verbs/voided"

// Statement is an xAPI statement.
//
// The zero value of an optional field means the property is absent. Stored,
// Authority and Version are set by an LRS; lrsbridge decodes them so that it
// can read statements, but producers leave them empty.
type Statement struct {
	// ID is the statement id, a UUID in hyphenated form.
	ID string
	// Actor is the agent or group the statement is about.
	Actor Actor
	// Verb is the action.
	Verb Verb
	// Object is what the actor acted on: *Activity, *Actor, *StatementRef or
	// *SubStatement.
	Object Object
	// Result is the outcome, if any.
	Result *Result
	// Context gives the circumstances, if any.
	Context *Context
	// Timestamp is when the experience happened; the zero time means absent.
	Timestamp time.Time
	// Stored is when the LRS stored the statement; the zero time means absent.
	Stored time.Time
	// Authority is who asserts the statement is true, set by the LRS.
	Authority *Actor
	// Version is the statement's xAPI version property, set by the LRS.
	Version string
	// Attachments describes attached documents.
	Attachments []Attachment
}

// Actor is an Agent or a Group. ObjectType tells which; it is ObjectTypeAgent
// when empty.
//
// An Agent is identified by exactly one inverse functional identifier (IFI):
// Mbox, MboxSHA1Sum, OpenID or Account. A Group has Member and may also have
// an IFI (an identified group); without one it is anonymous.
type Actor struct {
	// ObjectType is ObjectTypeAgent or ObjectTypeGroup; empty means Agent.
	ObjectType string
	// Name is the display name.
	Name string
	// Mbox is a mailto IRI, for example "mailto:jane@example.com".
	Mbox string
	// MboxSHA1Sum is the hex SHA-1 of the mailto IRI.
	MboxSHA1Sum string
	// OpenID is an OpenID URI.
	OpenID string
	// Account is an account on an existing system.
	Account *Account
	// Member lists the agents of a group. It is nil for an agent; a decoded
	// group with an empty member array has a non-nil empty slice.
	Member []Actor
}

// IsGroup reports whether a is a Group.
func (a *Actor) IsGroup() bool { return a.ObjectType == ObjectTypeGroup }

// Account is an account on an existing system, an inverse functional
// identifier of an agent.
type Account struct {
	// HomePage is the IRL of the system that owns the account.
	HomePage string
	// Name is the account's unique id on that system.
	Name string
}

// Verb is the action of a statement.
type Verb struct {
	// ID is the verb's IRI.
	ID string
	// Display is the human-readable name by language.
	Display LanguageMap
}

// Object is the object of a statement: *Activity, *Actor, *StatementRef or
// *SubStatement. Callers type-switch on it.
type Object interface {
	// ObjectTypeName returns the objectType the object is encoded with.
	ObjectTypeName() string
	isObject()
}

// ObjectTypeName returns ObjectTypeActivity.
func (*Activity) ObjectTypeName() string { return ObjectTypeActivity }

// ObjectTypeName returns ObjectTypeGroup for a group and ObjectTypeAgent
// otherwise.
func (a *Actor) ObjectTypeName() string {
	if a.IsGroup() {
		return ObjectTypeGroup
	}
	return ObjectTypeAgent
}

// ObjectTypeName returns ObjectTypeStatementRef.
func (*StatementRef) ObjectTypeName() string { return ObjectTypeStatementRef }

// ObjectTypeName returns ObjectTypeSubStatement.
func (*SubStatement) ObjectTypeName() string { return ObjectTypeSubStatement }

func (*Activity) isObject()     {}
func (*Actor) isObject()        {}
func (*StatementRef) isObject() {}
func (*SubStatement) isObject() {}

// Activity is a thing with which a learner interacts.
type Activity struct {
	// ID is the activity's absolute IRI.
	ID string
	// Definition describes the activity, if given.
	Definition *ActivityDefinition
}

// ActivityDefinition describes an activity, including the components of an
// interaction activity.
type ActivityDefinition struct {
	// Name is the activity's name by language.
	Name LanguageMap
	// Description is the activity's description by language.
	Description LanguageMap
	// Type is the IRI of the activity type.
	Type string
	// MoreInfo is an IRL of a document about the activity.
	MoreInfo string
	// InteractionType is one of the interaction types (see
	// InteractionTypes) when the activity is an interaction.
	InteractionType string
	// CorrectResponsesPattern lists correct responses of an interaction.
	// Nil means absent; a non-nil empty slice encodes as [].
	CorrectResponsesPattern []string
	// Choices are the choices of a choice or sequencing interaction.
	Choices []InteractionComponent
	// Scale is the scale of a likert interaction.
	Scale []InteractionComponent
	// Source is the source list of a matching interaction.
	Source []InteractionComponent
	// Target is the target list of a matching interaction.
	Target []InteractionComponent
	// Steps are the steps of a performance interaction.
	Steps []InteractionComponent
	// Extensions carries further data.
	Extensions Extensions
}

// InteractionComponent is one choice, scale point, source, target or step of
// an interaction.
type InteractionComponent struct {
	// ID identifies the component within its list.
	ID string
	// Description is the component's text by language.
	Description LanguageMap
}

// InteractionTypes lists the valid values of
// ActivityDefinition.InteractionType.
var InteractionTypes = []string{
	"true-false", "choice", "fill-in", "long-fill-in", "matching",
	"performance", "sequencing", "likert", "numeric", "other",
}

// StatementRef refers to another statement by id.
type StatementRef struct {
	// ID is the id of the statement referred to.
	ID string
}

// SubStatement is a statement used as the object of another statement. It
// has no id, stored, version or authority, and cannot nest.
type SubStatement struct {
	// Actor is the sub-statement's actor.
	Actor Actor
	// Verb is the sub-statement's verb.
	Verb Verb
	// Object is the sub-statement's object; it cannot be a SubStatement.
	Object Object
	// Result is the sub-statement's result, if any.
	Result *Result
	// Context is the sub-statement's context, if any.
	Context *Context
	// Timestamp is the sub-statement's timestamp; zero means absent.
	Timestamp time.Time
	// Attachments describes attached documents.
	Attachments []Attachment
}

// Result is the measured outcome of a statement.
type Result struct {
	// Score is the score, if any.
	Score *Score
	// Success reports whether the attempt succeeded; nil means absent.
	Success *bool
	// Completion reports whether the activity was completed; nil means
	// absent.
	Completion *bool
	// Response is the learner's response; nil means absent.
	Response *string
	// Duration is how long the experience took; nil means absent.
	Duration *Duration
	// Extensions carries further data.
	Extensions Extensions
}

// Score is a score. Every field is optional; nil means absent.
type Score struct {
	// Scaled is the score scaled to [-1, 1].
	Scaled *float64
	// Raw is the unscaled score, within [Min, Max] when those are given.
	Raw *float64
	// Min is the lowest possible score.
	Min *float64
	// Max is the highest possible score.
	Max *float64
}

// Context gives the circumstances of a statement.
type Context struct {
	// Registration is the UUID of the registration (enrollment or attempt).
	Registration string
	// Instructor is the instructor, an agent or group.
	Instructor *Actor
	// Team is the team, a group.
	Team *Actor
	// ContextActivities relates the statement to other activities.
	ContextActivities *ContextActivities
	// Revision is the revision of the learning activity; only with an
	// activity object.
	Revision string
	// Platform is the platform used; only with an activity object.
	Platform string
	// Language is the RFC 5646 tag of the language of the experience.
	Language string
	// Statement refers to another statement that gives context.
	Statement *StatementRef
	// Extensions carries further data.
	Extensions Extensions
	// ContextAgents relates agents to the statement (xAPI 2.0 only).
	ContextAgents []ContextAgent
	// ContextGroups relates groups to the statement (xAPI 2.0 only).
	ContextGroups []ContextGroup
}

// ContextActivities relates a statement to other activities. A decoded single
// activity object (tolerated by the specification) becomes a one-element
// list; lists are always encoded as arrays.
type ContextActivities struct {
	// Parent holds the activities that enclose the object.
	Parent []Activity
	// Grouping holds activities indirectly related to the object.
	Grouping []Activity
	// Category holds activities that categorize the statement, such as
	// profiles.
	Category []Activity
	// Other holds any other related activities.
	Other []Activity
}

// ContextAgent relates an agent to a statement's context (xAPI 2.0).
type ContextAgent struct {
	// Agent is the agent.
	Agent Actor
	// RelevantTypes lists IRIs that describe the relationship; when
	// present, it is not empty.
	RelevantTypes []string
}

// ContextGroup relates a group to a statement's context (xAPI 2.0).
type ContextGroup struct {
	// Group is the group.
	Group Actor
	// RelevantTypes lists IRIs that describe the relationship; when
	// present, it is not empty.
	RelevantTypes []string
}

// Attachment describes a document attached to a statement.
type Attachment struct {
	// UsageType is the IRI of the attachment's usage.
	UsageType string
	// Display is the attachment's title by language.
	Display LanguageMap
	// Description describes the attachment by language.
	Description LanguageMap
	// ContentType is the MIME type of the attachment.
	ContentType string
	// Length is the attachment's size in octets.
	Length int64
	// SHA2 is the hex SHA-2 hash of the attachment's data.
	SHA2 string
	// FileURL is an IRL from which the attachment can be fetched.
	FileURL string
}

// LanguageMap maps RFC 5646 language tags to text. It is encoded with its
// keys sorted.
type LanguageMap map[string]string

// Extensions maps IRIs to arbitrary JSON values. Values are kept as raw JSON
// and encoded canonically (object keys sorted, insignificant space removed,
// strings re-escaped, number literals kept as written). A nil or empty value
// encodes as null.
type Extensions map[string]json.RawMessage
