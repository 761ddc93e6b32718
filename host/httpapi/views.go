package httpapi

import (
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk"
)

// The answers of the API. Secrets are never part of them.

// IntegrationView is an integration as the API shows it: configuration
// without secret values, and the names of the secrets that are set.
type IntegrationView struct {
	ID         string         `json:"id"`
	Label      string         `json:"label"`
	Plugin     string         `json:"plugin"`
	Source     string         `json:"source"`
	Saved      *time.Time     `json:"saved,omitempty"`
	Config     map[string]any `json:"config"`
	SecretsSet []string       `json:"secrets_set"`
}

func viewIntegration(in host.IntegrationInfo) IntegrationView {
	v := IntegrationView{ID: in.ID, Label: in.Label, Plugin: in.Plugin, Source: in.Source, SecretsSet: []string{}}
	if !in.Saved.IsZero() {
		t := in.Saved
		v.Saved = &t
	}
	v.Config = stripSecrets(in.Config, "", &v.SecretsSet)
	sort.Strings(v.SecretsSet)
	return v
}

// stripSecrets copies cfg without secret values (the host masks them; the
// API leaves them out altogether) and appends the paths of set secrets to
// set.
func stripSecrets(cfg map[string]any, prefix string, set *[]string) map[string]any {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if host.IsSecretKey(k) || v == host.Masked {
			if s, ok := v.(string); !ok || s != "" {
				*set = append(*set, prefix+k)
			}
			continue
		}
		if m, ok := v.(map[string]any); ok {
			out[k] = stripSecrets(m, prefix+k+".", set)
			continue
		}
		out[k] = v
	}
	return out
}

// SinkView is the delivery status of one integration, with its state in
// plain words.
type SinkView struct {
	ID            string `json:"id"`
	Label         string `json:"label"`
	Plugin        string `json:"plugin"`
	State         string `json:"state"`
	StateText     string `json:"state_text"`
	NextStep      string `json:"next_step"`
	Queued        int    `json:"queued"`
	QueuedBytes   int64  `json:"queued_bytes"`
	OldestAgeMS   int64  `json:"oldest_age_ms"`
	InFlight      int    `json:"in_flight"`
	Delivered     int64  `json:"delivered"`
	AlreadyStored int64  `json:"already_stored"`
	Retried       int64  `json:"retried"`
	DeadLettered  int64  `json:"dead_lettered"`
	DeadLetters   int    `json:"dead_letters"`
	// LastSuccess is when a batch was last delivered.
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// LastError is the last error in full (redacted), LastErrorSummary its
	// cause as one short sentence, LastErrorTime when it happened.
	LastError        string     `json:"last_error,omitempty"`
	LastErrorSummary string     `json:"last_error_summary,omitempty"`
	LastErrorTime    *time.Time `json:"last_error_time,omitempty"`
	// ErrorCurrent is false once a delivery succeeded after the last
	// error: the error is history, not the state.
	ErrorCurrent bool `json:"error_current"`
}

// StatusView is the delivery status of an organization.
type StatusView struct {
	Org           string     `json:"org"`
	RefusedEvents int64      `json:"refused_events"`
	Integrations  []SinkView `json:"integrations"`
	Time          time.Time  `json:"time"`
}

// viewStatus shows s; auth has the authentication mode (the "auth"
// setting) of each integration by id, for the plain words of its state.
func viewStatus(s host.OrgStatus, auth map[string]string, now time.Time) StatusView {
	v := StatusView{Org: s.Org, RefusedEvents: s.RefusedEvents, Integrations: make([]SinkView, 0, len(s.Sinks)), Time: now.UTC()}
	for _, x := range s.Sinks {
		text, next := stateWords(x.State, auth[x.ID], x.LastError)
		sv := SinkView{
			ID: x.ID, Label: x.Label, Plugin: x.Plugin, State: x.State, StateText: text, NextStep: next,
			Queued: x.Queued, QueuedBytes: x.QueuedBytes, OldestAgeMS: x.OldestAge.Milliseconds(), InFlight: x.InFlight,
			Delivered: x.Delivered, AlreadyStored: x.AlreadyStored, Retried: x.Retried, DeadLettered: x.DeadLettered,
			DeadLetters: x.DeadLetters, LastError: x.LastError,
		}
		if !x.LastSuccess.IsZero() {
			t := x.LastSuccess
			sv.LastSuccess = &t
		}
		if !x.LastErrorTime.IsZero() {
			t := x.LastErrorTime
			sv.LastErrorTime = &t
			sv.ErrorCurrent = x.LastSuccess.Before(x.LastErrorTime)
		}
		if x.LastError != "" {
			sv.LastErrorSummary = ErrorSummary(x.LastError)
		}
		v.Integrations = append(v.Integrations, sv)
	}
	return v
}

// StateText returns a delivery state in plain words and the next step for
// the organization's admin.
func StateText(state string) (text, next string) {
	switch state {
	case host.StateActive:
		return "Active", "Statements are delivered as they arrive. Nothing to do."
	case host.StateRetrying:
		return "Retrying: the last delivery failed", "Statements are kept and sent again by themselves. If this lasts, check that the LRS is up."
	case host.StatePausedAuth:
		return "Paused: the LRS refused the credentials", "Enter the new secret and test again."
	case host.StatePausedConfig:
		return "Paused: the LRS settings are not valid", "Correct the settings and test again."
	case host.StatePausedPlugin:
		return "Paused: this server cannot run the integration's plugin", "Ask the operator of this server to reinstall the plugin; delivery resumes by itself once it is fixed."
	case host.StateBreakerOpen:
		return "Waiting: the LRS is not answering", "Statements are kept and sent when it answers again. Check that the LRS is up."
	case host.StateBreakerHalfOpen:
		return "Reconnecting to the LRS", "Trying one delivery; the rest follows when it works."
	case host.StateStopped:
		return "Stopped", "The integration was removed or the server is stopping."
	case host.StateQueueError:
		return "Stopped: its queue on disk is damaged", "Ask the operator of this server to repair the data directory."
	}
	return state, ""
}

// tokenErrorMark begins the message of the LRS sink's token errors (its
// TokenError): the token endpoint, not the LRS, refused or failed.
const tokenErrorMark = "oauth2 token: "

// stateWords is StateText for an integration of an authentication mode
// (the LRS sink's "auth" setting: "" or "basic", "oauth2", "bearer"), whose
// last error was lastError: a pause names the credentials of that mode,
// and for OAuth 2.0 whether the token endpoint or the LRS refused them.
func stateWords(state, auth, lastError string) (text, next string) {
	text, next = StateText(state)
	switch {
	case auth == "oauth2" && state == host.StatePausedAuth && strings.Contains(lastError, tokenErrorMark):
		return "Paused: the token endpoint refused the client credentials", "Enter the new client secret and test again."
	case auth == "oauth2" && state == host.StatePausedAuth:
		return "Paused: the LRS refused the access token", "Check with the LRS's administrator that this client may send statements (its scopes), then test again."
	case auth == "bearer" && state == host.StatePausedAuth:
		return "Paused: the LRS refused the bearer token", "Enter the new bearer token and test again."
	case auth == "oauth2" && (state == host.StateRetrying || state == host.StateBreakerOpen):
		return text, strings.Replace(next, "the LRS is up", "the LRS and its token endpoint are up", 1)
	}
	return text, next
}

// ErrorSummary returns the cause of an error message as one short
// sentence: the last part of a chain of "context: cause" (unless that part
// is too short to say anything), capitalized, ending in a period, at most
// 160 characters.
func ErrorSummary(msg string) string {
	msg = strings.TrimSpace(strings.ToValidUTF8(msg, "\uFFFD"))
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(strings.TrimSpace(msg[i+2:])) > 12 {
		msg = strings.TrimSpace(msg[i+2:])
	}
	if r := []rune(msg); len(r) > 160 {
		msg = string(r[:159]) + "…"
	}
	if msg == "" {
		return ""
	}
	first, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(first)) + msg[size:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "…") {
		msg += "."
	}
	return msg
}

// DeadLetterView is a dead letter without its statement (which holds
// personal data). IntegrationExists is false for letters of an
// integration that was removed: replay them into another one.
type DeadLetterView struct {
	ID                string    `json:"id"`
	Sink              string    `json:"sink"`
	IntegrationExists bool      `json:"integration_exists"`
	StatementID       string    `json:"statement_id"`
	Class             string    `json:"class"`
	Reason            string    `json:"reason"`
	Time              time.Time `json:"time"`
	Recorded          time.Time `json:"recorded"`
}

// viewDeadLetters returns the newest limit dead letters, newest first.
func viewDeadLetters(dls []host.DeadLetter, limit int, exists map[string]bool) []DeadLetterView {
	out := make([]DeadLetterView, 0, min(len(dls), limit))
	for i := len(dls) - 1; i >= 0 && len(out) < limit; i-- {
		d := dls[i]
		out = append(out, DeadLetterView{ID: d.ID, Sink: d.Sink, IntegrationExists: exists[d.Sink], StatementID: d.StatementID,
			Class: d.Class, Reason: d.Reason, Time: d.Time, Recorded: d.Recorded})
	}
	return out
}

// StepView is one step of a connection test report.
type StepView struct {
	Name       string `json:"name"`
	Title      string `json:"title"`
	Status     string `json:"status"`
	Message    string `json:"message"`
	DurationMS int64  `json:"duration_ms"`
}

// ReportView is a connection test report.
type ReportView struct {
	OK    bool       `json:"ok"`
	Steps []StepView `json:"steps"`
}

func viewReport(r sdk.Report) ReportView {
	v := ReportView{OK: r.OK(), Steps: make([]StepView, 0, len(r.Steps))}
	for _, s := range r.Steps {
		v.Steps = append(v.Steps, StepView{Name: s.Name, Title: s.Title, Status: s.Status.String(), Message: s.Message, DurationMS: s.Duration.Milliseconds()})
	}
	return v
}

// OrgView is an organization in GET /orgs.
type OrgView struct {
	ID           string `json:"id"`
	Integrations int    `json:"integrations"`
}

// OrgSettingsView is an organization's normalization settings as the API
// shows and takes them, named as the configuration keys under orgs.<id>.
// An empty value takes the host's default; base_iri is required.
type OrgSettingsView struct {
	BaseIRI              string `json:"base_iri"`
	Identity             string `json:"identity"`
	SendNames            bool   `json:"send_names"`
	ChatText             string `json:"chat_text"`
	ChatTruncate         int    `json:"chat_truncate"`
	ScormInteractionVerb string `json:"scorm_interaction_verb"`
	Platform             string `json:"platform"`
}

// OrgInfoView is an organization in GET and PUT /orgs/{org}.
type OrgInfoView struct {
	ID       string          `json:"id"`
	Source   string          `json:"source"`
	Settings OrgSettingsView `json:"settings"`
}

func viewOrg(o host.OrgInfo) OrgInfoView {
	s := o.Settings
	return OrgInfoView{ID: o.ID, Source: o.Source, Settings: OrgSettingsView{
		BaseIRI: s.BaseIRI, Identity: s.Identity, SendNames: s.SendNames, ChatText: s.ChatText,
		ChatTruncate: s.ChatTruncate, ScormInteractionVerb: s.ScormInteractionVerb, Platform: s.Platform,
	}}
}

func (v OrgSettingsView) settings() host.OrgSettings {
	return host.OrgSettings{
		BaseIRI: v.BaseIRI, Identity: v.Identity, SendNames: v.SendNames, ChatText: v.ChatText,
		ChatTruncate: v.ChatTruncate, ScormInteractionVerb: v.ScormInteractionVerb, Platform: v.Platform,
	}
}
