package lrsserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// checkParams answers 400 for a parameter not in allowed (names are
// case-sensitive) or given twice.
func checkParams(q *request, allowed ...string) error {
	for k, vs := range q.query {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			for _, a := range allowed {
				if strings.EqualFold(k, a) {
					return statusErr(http.StatusBadRequest, "unknown parameter %q for %s %s; did you mean %q (parameter names are case-sensitive)?", k, q.method, q.resource, a)
				}
			}
			return statusErr(http.StatusBadRequest, "unknown parameter %q for %s %s; allowed: %s", k, q.method, q.resource, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return statusErr(http.StatusBadRequest, "parameter %q is given %d times", k, len(vs))
		}
	}
	return nil
}

// has reports whether the query holds the parameter.
func (q *request) has(name string) bool {
	_, ok := q.query[name]
	return ok
}

// required returns a required parameter.
func (q *request) required(name string) (string, error) {
	if !q.has(name) {
		return "", statusErr(http.StatusBadRequest, "%s %s needs the %s parameter", q.method, q.resource, name)
	}
	return q.query.Get(name), nil
}

// iriParam returns a required IRI parameter.
func (q *request) iriParam(name string) (string, error) {
	v, err := q.required(name)
	if err != nil {
		return "", err
	}
	if !xapi.IsIRI(v) {
		return "", statusErr(http.StatusBadRequest, "parameter %s: %q is not an absolute IRI", name, v)
	}
	return v, nil
}

// timeParam returns an optional timestamp parameter (zero when absent).
func (q *request) timeParam(name string) (time.Time, error) {
	if !q.has(name) {
		return time.Time{}, nil
	}
	t, err := xapi.ParseTimestamp(q.query.Get(name))
	if err != nil {
		return time.Time{}, statusErr(http.StatusBadRequest, "parameter %s: %v", name, err)
	}
	return t, nil
}

// boolParam returns an optional "true"/"false" parameter.
func (q *request) boolParam(name string) (bool, error) {
	switch q.query.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, statusErr(http.StatusBadRequest, "parameter %s must be true or false, got %q", name, q.query.Get(name))
}

// registrationParam returns an optional UUID parameter in lower case.
func (q *request) registrationParam() (string, error) {
	if !q.has("registration") {
		return "", nil
	}
	v := q.query.Get("registration")
	if !xapi.IsUUID(v) {
		return "", statusErr(http.StatusBadRequest, "parameter registration: %q is not a UUID", v)
	}
	return strings.ToLower(v), nil
}

// agentParam parses a required agent parameter: the JSON of an Agent or an
// identified Group.
func (q *request) agentParam(name string) (*xapi.Actor, error) {
	v, err := q.required(name)
	if err != nil {
		return nil, err
	}
	a, err := ParseAgent(v)
	if err != nil {
		return nil, statusErr(http.StatusBadRequest, "parameter %s: %v", name, err)
	}
	return a, nil
}

// agentProbe wraps an agent into a statement so that xapi's strict decoder
// and validator check it.
const agentProbe = `{"actor":%s,"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"http://lrs.invalid/a"}}`

// ParseAgent parses the JSON of an Agent or an identified Group, as the
// agent parameters carry it, checking it like a statement's actor.
func ParseAgent(s string) (*xapi.Actor, error) {
	if !json.Valid([]byte(s)) || !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return nil, errString("not a JSON object")
	}
	st, probs := xapi.Check([]byte(strings.Replace(agentProbe, "%s", s, 1)), xapi.V200)
	if len(probs) > 0 {
		msg := make([]string, len(probs))
		for i, p := range probs {
			msg[i] = strings.Replace(p.String(), "actor", "agent", 1)
		}
		return nil, errString(strings.Join(msg, "; "))
	}
	if AgentKey(&st.Actor) == "" {
		return nil, errString("an anonymous group has no identity; name an agent")
	}
	return &st.Actor, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// AgentKey returns the identity of an agent or identified group: its
// inverse functional identifier, "" for an anonymous group.
func AgentKey(a *xapi.Actor) string {
	switch {
	case a == nil:
		return ""
	case a.Mbox != "":
		return "mbox:" + strings.TrimPrefix(a.Mbox, "mailto:")
	case a.MboxSHA1Sum != "":
		return "mbox_sha1sum:" + strings.ToLower(a.MboxSHA1Sum)
	case a.OpenID != "":
		return "openid:" + a.OpenID
	case a.Account != nil:
		return "account:" + a.Account.HomePage + "|" + a.Account.Name
	}
	return ""
}

func writeJSON(w http.ResponseWriter, method string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"cannot encode the answer"}`)
	}
	writeBody(w, method, status, "application/json", b)
}

func writeBody(w http.ResponseWriter, method string, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", itoa(len(b)))
	w.WriteHeader(status)
	if method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, http.MethodGet, status, map[string]string{"message": msg})
}
