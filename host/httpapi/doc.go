// Package httpapi serves the host's admin API over HTTP: organizations,
// integrations (list, test, save, remove, resume), delivery status, dead
// letters (list, replay, purge) and POST /events (NDJSON event envelopes
// with a result per line). LearningFlow mounts the handler under its own
// pages, behind its own login, like net/http/pprof's handlers.
//
// Every request passes through the caller's [Authorizer], which learns the
// organization and the [Action] and may refuse; there is no default that
// allows everything ([AllowAll] must be chosen explicitly). An admin of one
// organization cannot reach another's data through any path, method or
// body: the organization of every route is checked before anything else,
// the list of organizations shows only the readable ones, and every line
// of POST /events is checked against its own "org". State-changing
// requests from other origins are refused (net/http's
// CrossOriginProtection), and JSON bodies must say so in Content-Type.
//
// The API is described by an OpenAPI 3.1 document, served at
// {prefix}/openapi.yaml ([OpenAPI] returns it). Secrets are never part of
// an answer or a log line.
package httpapi
