package httpapi

import (
	"errors"
	"net/http"
)

// Action is what a request does to an organization, for the Authorizer.
type Action string

// The actions of the API's routes.
const (
	// ActionRead reads settings, integrations, status or dead letters.
	ActionRead Action = "read"
	// ActionWrite creates, changes or removes the organization or its
	// integrations (a save runs a connection test too), or resumes one.
	ActionWrite Action = "write"
	// ActionTest runs a connection test without saving.
	ActionTest Action = "test"
	// ActionReplay queues dead letters again.
	ActionReplay Action = "replay"
	// ActionPurge deletes dead letters for good.
	ActionPurge Action = "purge"
	// ActionIngest records events (one check per line of POST /events).
	ActionIngest Action = "ingest"
)

// Actions lists every Action.
var Actions = []Action{ActionRead, ActionWrite, ActionTest, ActionReplay, ActionPurge, ActionIngest}

// Authorizer decides whether a request may perform an action on an
// organization. It is called for every request, before the host is
// asked anything, and for every line of POST /events; it must be safe for
// concurrent use. A nil error allows; an error refuses with 403, or 401
// when it wraps ErrUnauthenticated. The error's text is not shown to the
// caller.
type Authorizer interface {
	Authorize(r *http.Request, org string, action Action) error
}

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(r *http.Request, org string, action Action) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(r *http.Request, org string, action Action) error {
	return f(r, org, action)
}

// ErrUnauthenticated, returned (or wrapped) by an Authorizer, answers 401:
// the caller is not logged in, rather than not allowed.
var ErrUnauthenticated = errors.New("not logged in")

// ErrForbidden is a ready refusal for Authorizers.
var ErrForbidden = errors.New("not allowed")

// AllowAll returns an Authorizer that allows every request. It is for a
// server only its operator can reach (the demo on loopback); anything
// else needs a real Authorizer.
func AllowAll() Authorizer {
	return AuthorizerFunc(func(*http.Request, string, Action) error { return nil })
}
