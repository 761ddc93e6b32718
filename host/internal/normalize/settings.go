package normalize

import (
	"errors"
	"fmt"
	"strings"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Identity policies, the values of Settings.Identity.
const (
	// IdentityAccount identifies the learner by an account whose homePage
	// is the org's base IRI and whose name is the LearningFlow user id.
	IdentityAccount = "account"
	// IdentityMbox identifies the learner by "mailto:" + email.
	IdentityMbox = "mbox"
	// IdentityMboxSHA1Sum identifies the learner by the SHA-1 of the mailto
	// IRI.
	IdentityMboxSHA1Sum = "mbox_sha1sum"
)

// Chat text policies, the values of Settings.ChatText.
const (
	// ChatTextSend sends chat text as it is.
	ChatTextSend = "send"
	// ChatTextTruncate sends the first Settings.ChatTruncate characters.
	ChatTextTruncate = "truncate"
	// ChatTextDrop sends no chat text.
	ChatTextDrop = "drop"
)

// SCORM interaction verbs, the values of Settings.ScormInteractionVerb.
const (
	// ScormVerbResponded is the verb of the ADL SCORM profile.
	ScormVerbResponded = "responded"
	// ScormVerbAnswered is the verb H5P and Storyline use.
	ScormVerbAnswered = "answered"
)

// DefaultPlatform is the default of Settings.Platform.
const DefaultPlatform = "LearningFlow"

// Settings are an organization's normalization settings. The host loads them
// from the keys under orgs.<id> of its configuration. A zero field takes its
// default (see DefaultSettings), except BaseIRI, which is required.
type Settings struct {
	// BaseIRI is the org's base IRI, for example
	// "https://acme.learningflow.example": an absolute http or https IRI
	// with a host and without query or fragment. LearningFlow activity ids
	// and the actor's account homePage are built from it; a trailing "/"
	// is ignored. Required.
	BaseIRI string `koanf:"base_iri"`
	// Identity is the actor's identity policy: "account" (the default),
	// "mbox" or "mbox_sha1sum". The mbox policies refuse events whose user
	// has no valid email address.
	Identity string `koanf:"identity"`
	// SendNames adds the user's name to the actor. Default false.
	SendNames bool `koanf:"send_names"`
	// ChatText is what happens to chat text in statements: "send" (the
	// default), "truncate" (to ChatTruncate characters) or "drop".
	ChatText string `koanf:"chat_text"`
	// ChatTruncate is the number of characters (Unicode code points) kept
	// by the "truncate" chat text policy; it must be positive then.
	ChatTruncate int `koanf:"chat_truncate"`
	// ScormInteractionVerb is the verb of SCORM interaction statements:
	// "responded" (the ADL SCORM profile's, the default) or "answered".
	ScormInteractionVerb string `koanf:"scorm_interaction_verb"`
	// Platform is context.platform of statements about activities.
	// Default "LearningFlow".
	Platform string `koanf:"platform"`
}

// DefaultSettings returns the default settings: account identity, no names,
// chat text sent, the responded verb for SCORM interactions and the
// "LearningFlow" platform. BaseIRI is empty and must be set.
func DefaultSettings() Settings {
	return Settings{
		Identity:             IdentityAccount,
		ChatText:             ChatTextSend,
		ScormInteractionVerb: ScormVerbResponded,
		Platform:             DefaultPlatform,
	}
}

// ErrSettings is wrapped by the error Validate returns.
var ErrSettings = errors.New("invalid normalization settings")

// SettingsError lists every invalid setting; it wraps ErrSettings.
type SettingsError struct {
	// Problems name each setting by its configuration key.
	Problems []SettingProblem
}

// SettingProblem is one invalid setting.
type SettingProblem struct {
	// Key is the configuration key, for example "base_iri".
	Key string
	// Message says what is wrong.
	Message string
}

// Error joins the problems as "key: message; ...".
func (e *SettingsError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Key + ": " + p.Message
	}
	return ErrSettings.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap returns ErrSettings.
func (e *SettingsError) Unwrap() error { return ErrSettings }

// Validate reports every setting that is out of range, naming each by its
// configuration key, as a *SettingsError (which wraps ErrSettings).
func (s Settings) Validate() error {
	var probs []SettingProblem
	switch {
	case s.BaseIRI == "":
		probs = append(probs, SettingProblem{"base_iri", "required"})
	case !xapi.IsIRL(s.BaseIRI) || !(strings.HasPrefix(s.BaseIRI, "https://") || strings.HasPrefix(s.BaseIRI, "http://")):
		probs = append(probs, SettingProblem{"base_iri", "not an absolute http or https IRI with a host"})
	case strings.ContainsAny(s.BaseIRI, "?#"):
		probs = append(probs, SettingProblem{"base_iri", "must not have a query or fragment"})
	}
	switch s.Identity {
	case "", IdentityAccount, IdentityMbox, IdentityMboxSHA1Sum:
	default:
		probs = append(probs, SettingProblem{"identity", fmt.Sprintf("%q is not one of account, mbox, mbox_sha1sum", s.Identity)})
	}
	switch s.ChatText {
	case "", ChatTextSend, ChatTextDrop:
	case ChatTextTruncate:
		if s.ChatTruncate <= 0 {
			probs = append(probs, SettingProblem{"chat_truncate", "must be positive with chat_text truncate"})
		}
	default:
		probs = append(probs, SettingProblem{"chat_text", fmt.Sprintf("%q is not one of send, truncate, drop", s.ChatText)})
	}
	if s.ChatTruncate < 0 {
		probs = append(probs, SettingProblem{"chat_truncate", "must not be negative"})
	}
	switch s.ScormInteractionVerb {
	case "", ScormVerbResponded, ScormVerbAnswered:
	default:
		probs = append(probs, SettingProblem{"scorm_interaction_verb", fmt.Sprintf("%q is not one of responded, answered", s.ScormInteractionVerb)})
	}
	if len(probs) > 0 {
		return &SettingsError{Problems: probs}
	}
	return nil
}

// resolved returns s with defaults filled in and the base IRI without a
// trailing slash. s must be valid.
func (s Settings) resolved() Settings {
	d := DefaultSettings()
	if s.Identity == "" {
		s.Identity = d.Identity
	}
	if s.ChatText == "" {
		s.ChatText = d.ChatText
	}
	if s.ScormInteractionVerb == "" {
		s.ScormInteractionVerb = d.ScormInteractionVerb
	}
	if s.Platform == "" {
		s.Platform = d.Platform
	}
	s.BaseIRI = strings.TrimRight(s.BaseIRI, "/")
	return s
}
