package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk"
)

// FieldError is a problem with one field of a request, named as in the
// request body ("config.endpoint", "settings.base_iri", "label").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error struct {
		// Code is machine-readable: "forbidden", "invalid_config",
		// "test_failed", "integration_exists", "org_unknown", ...
		Code string `json:"code"`
		// Message says what is wrong and what to do, in plain words.
		Message string       `json:"message"`
		Fields  []FieldError `json:"fields,omitempty"`
	} `json:"error"`
	// Report is the connection test report of a failed save.
	Report *ReportView `json:"report,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client went away
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields []FieldError) {
	var e ErrorBody
	e.Error.Code, e.Error.Message, e.Error.Fields = code, msg, fields
	writeJSON(w, status, e)
}

// hostError answers an error of the host: unknown organizations and
// integrations are 404, configuration errors and unusable plugins 422, a
// stopped host 503, anything else 500 (logged, with a generic message).
func (a *api) hostError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *sdk.ConfigError
	var pe *host.PolicyError
	switch {
	case errors.Is(err, host.ErrOrgUnknown):
		writeError(w, http.StatusNotFound, "org_unknown", "This organization does not exist.", nil)
	case errors.Is(err, host.ErrIntegrationUnknown):
		writeError(w, http.StatusNotFound, "integration_unknown", "This integration does not exist (any more): reload the page.", nil)
	case errors.Is(err, host.ErrIntegrationExists):
		writeError(w, http.StatusConflict, "integration_exists", "Another integration already has this label.",
			[]FieldError{{Field: "label", Message: "another integration already has this label; edit that one or choose another label"}})
	case errors.As(err, &ce):
		fields := make([]FieldError, 0, len(ce.Fields))
		for _, f := range ce.Fields {
			fields = append(fields, FieldError{Field: configField(f.Field), Message: f.Message})
		}
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "The settings are not valid: correct the fields marked.", fields)
	case errors.Is(err, host.ErrPluginNotFound):
		writeError(w, http.StatusUnprocessableEntity, "plugin_unknown", "This server has no such plugin: choose another one, or ask the operator to install it.",
			[]FieldError{{Field: "plugin", Message: "is not installed on this server"}})
	case errors.As(err, &pe):
		writeError(w, http.StatusUnprocessableEntity, "not_allowed", pe.Message+".",
			[]FieldError{{Field: configField(pe.Field), Message: pe.Message}})
	case errors.Is(err, sdk.ErrChecksumMismatch), errors.Is(err, host.ErrPluginUnusable):
		writeError(w, http.StatusUnprocessableEntity, "plugin_unusable", "The plugin's program on this server does not match its checksum, so it was not run. Ask the operator to reinstall it.",
			[]FieldError{{Field: "plugin", Message: "cannot be run: its checksum does not match"}})
	case errors.Is(err, host.ErrPlaintextSecrets):
		writeError(w, http.StatusServiceUnavailable, "secrets_key_missing",
			"This server cannot store secrets: its operator must set secrets.key (LRSBRIDGE_SECRETS__KEY).", nil)
	case errors.Is(err, host.ErrFull):
		writeError(w, http.StatusServiceUnavailable, "queue_full", "The queue is full: try again when deliveries have caught up.", nil)
	case errors.Is(err, host.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "closed", "The server is shutting down: try again in a moment.", nil)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusGatewayTimeout, "timeout", "The operation took too long: try again.", nil)
	default:
		// The host redacts secrets from its errors.
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "The operation failed on the server; its log has the details.", nil)
	}
}

// configField names a plugin configuration key as the request body does:
// "config.endpoint". Integration-level fields (id, plugin, label) keep
// their names.
func configField(f string) string {
	switch f {
	case "id", "plugin", "label", "":
		return f
	}
	return "config." + f
}

// orgFields turns the problems of PutOrg's configuration error into field
// errors named as in the request: "id" for the organization id of the path
// (key "orgs.<id>"), "settings.base_iri" for a setting (key
// "orgs.<id>.base_iri").
func orgFields(id string, problems []host.ConfigProblem) []FieldError {
	prefix := "orgs." + id
	fields := make([]FieldError, 0, len(problems))
	for _, prob := range problems {
		field := "settings"
		switch {
		case prob.Key == prefix:
			field = "id"
		case strings.HasPrefix(prob.Key, prefix+"."):
			field = "settings." + strings.TrimPrefix(prob.Key, prefix+".")
		}
		fields = append(fields, FieldError{Field: field, Message: prob.Message})
	}
	return fields
}

// decodeJSON reads a JSON request body of at most limit bytes into v.
// Only application/json is accepted: together with the cross-origin
// check, this keeps other sites' forms from driving the API. It answers
// the error itself and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "content_type", "Send a JSON body with Content-Type: application/json.", nil)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The body is larger than %d bytes.", limit), nil)
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_json", "The body is not valid JSON for this request: "+jsonReason(err)+".", nil)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad_json", "The body holds more than one JSON value.", nil)
		return false
	}
	return true
}

// jsonReason describes a JSON decoding error without quoting the input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s: want a JSON %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("want a JSON object, got %s", te.Value)
	}
	return err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	}
	return goKind
}
