package lrsserver

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// docRequest is a parsed document request.
type docRequest struct {
	key    DocKey
	idName string // stateId or profileId
	hasID  bool
	since  time.Time
}

// parseDoc reads the parameters of a state, activity profile or agent
// profile request and applies the principal's restrictions.
func (s *Server) parseDoc(q *request) (docRequest, error) {
	d := docRequest{key: DocKey{NS: q.p.Namespace}}
	var allowed []string
	switch q.resource {
	case ResState:
		d.key.Kind, d.idName = KindState, "stateId"
		allowed = []string{"activityId", "agent", "registration", "stateId"}
	case ResActivityProfile:
		d.key.Kind, d.idName = KindActivityProfile, "profileId"
		allowed = []string{"activityId", "profileId"}
	default:
		d.key.Kind, d.idName = KindAgentProfile, "profileId"
		allowed = []string{"agent", "profileId"}
	}
	if q.method == http.MethodGet || q.method == http.MethodHead {
		allowed = append(allowed, "since")
	}
	if err := checkParams(q, allowed...); err != nil {
		return d, err
	}
	var err error
	if d.key.Kind != KindAgentProfile {
		if d.key.ActivityID, err = q.iriParam("activityId"); err != nil {
			return d, err
		}
	}
	if d.key.Kind != KindActivityProfile {
		a, err := q.agentParam("agent")
		if err != nil {
			return d, err
		}
		d.key.Agent = AgentKey(a)
		if q.p.Learner != nil && d.key.Agent != AgentKey(q.p.Learner) {
			return d, statusErr(http.StatusForbidden, "this credential may only reach the documents of its own learner")
		}
	}
	if d.key.Kind == KindState {
		if d.key.Registration, err = q.registrationParam(); err != nil {
			return d, err
		}
		if q.p.Registration != "" && d.key.Registration != strings.ToLower(q.p.Registration) {
			return d, statusErr(http.StatusForbidden, "this credential may only reach the state of its own registration")
		}
	}
	if d.key.Kind == KindActivityProfile && q.p.Learner != nil && q.method != http.MethodGet && q.method != http.MethodHead {
		return d, statusErr(http.StatusForbidden, "this credential may only read activity profiles")
	}
	d.hasID = q.has(d.idName)
	d.key.ID = q.query.Get(d.idName)
	// since only filters lists; with an id it is checked and ignored.
	if d.since, err = q.timeParam("since"); err != nil {
		return d, err
	}
	return d, nil
}

// ETag returns the entity tag of a document body.
func ETag(body []byte) string {
	sum := sha1.Sum(body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// documents answers the state, activity profile and agent profile
// resources.
func (s *Server) documents(q *request) error {
	var body []byte
	if q.method == http.MethodPut || q.method == http.MethodPost {
		var err error
		if body, err = s.readAll(q.w, q.body); err != nil {
			return err
		}
	}
	if s.opts.AdmitDocument != nil {
		dr := DocumentRequest{Method: q.method, Resource: q.resource, Params: q.query, Body: body}
		if body != nil {
			dr.ContentType = q.header.Get("Content-Type")
		}
		if err := s.opts.AdmitDocument(q.p, dr); err != nil {
			return refusal(err)
		}
	}
	d, err := s.parseDoc(q)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	switch q.method {
	case http.MethodGet, http.MethodHead:
		if !d.hasID {
			ids, err := s.store.DocumentIDs(ctx, d.key, d.since)
			if err != nil {
				return err
			}
			writeJSON(q.w, q.method, http.StatusOK, ids)
			return nil
		}
		doc, ok, err := s.store.Document(ctx, d.key)
		if err != nil {
			return err
		}
		if !ok {
			return statusErr(http.StatusNotFound, "no document with %s %q", d.idName, d.key.ID)
		}
		h := q.w.Header()
		h.Set("ETag", ETag(doc.Body))
		h.Set("Last-Modified", doc.Updated.UTC().Format(http.TimeFormat))
		writeBody(q.w, q.method, http.StatusOK, doc.ContentType, doc.Body)
		return nil
	case http.MethodPut, http.MethodPost:
		if !d.hasID {
			return statusErr(http.StatusBadRequest, "%s %s needs the %s parameter", q.method, q.resource, d.idName)
		}
		ct := q.header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		isJSON := isJSONType(ct)
		if isJSON && !json.Valid(body) {
			return statusErr(http.StatusBadRequest, "the document has Content-Type application/json but is not valid JSON")
		}
		now := s.opts.Now().UTC()
		var etag string
		err = s.store.UpdateDocument(ctx, d.key, func(cur *Document) (*Document, error) {
			if err := s.precondition(q, d, cur); err != nil {
				return nil, err
			}
			next := &Document{ContentType: ct, Body: body, Updated: now}
			if q.method == http.MethodPost && cur != nil {
				if !isJSON || !isObject(body) {
					return nil, statusErr(http.StatusBadRequest, "POST %s merges into the stored document: send a JSON object with Content-Type application/json, or PUT to replace it", q.resource)
				}
				if !isJSONType(cur.ContentType) || !isObject(cur.Body) {
					return nil, statusErr(http.StatusBadRequest, "the stored document is not a JSON object, so it cannot be merged; PUT it instead")
				}
				merged, err := mergeObjects(cur.Body, body)
				if err != nil {
					return nil, statusErr(http.StatusBadRequest, "cannot merge the documents: %v", err)
				}
				next.Body = merged
			}
			etag = ETag(next.Body)
			return next, nil
		})
		if err != nil {
			return err
		}
		q.w.Header().Set("ETag", etag)
		q.w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodDelete:
		if !d.hasID {
			if d.key.Kind != KindState {
				return statusErr(http.StatusBadRequest, "DELETE %s needs the profileId parameter", q.resource)
			}
			if err := s.store.DeleteDocuments(ctx, d.key); err != nil {
				return err
			}
			q.w.WriteHeader(http.StatusNoContent)
			return nil
		}
		err := s.store.UpdateDocument(ctx, d.key, func(cur *Document) (*Document, error) {
			if err := s.precondition(q, d, cur); err != nil {
				return nil, err
			}
			return nil, nil
		})
		if err != nil {
			return err
		}
		q.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	q.w.Header().Set("Allow", "GET, HEAD, PUT, POST, DELETE")
	return statusErr(http.StatusMethodNotAllowed, "%s takes GET, HEAD, PUT, POST or DELETE, not %s", q.resource, q.method)
}

// precondition checks If-Match and If-None-Match against the current
// document, and the rule that a PUT over an existing document must carry
// one of them (profiles always; state from xAPI 2.0 on).
func (s *Server) precondition(q *request, d docRequest, cur *Document) error {
	ifMatch, ifNone := q.header.Get("If-Match"), q.header.Get("If-None-Match")
	var tag string
	if cur != nil {
		tag = ETag(cur.Body)
	}
	if ifMatch != "" && (cur == nil || !etagListHas(ifMatch, tag)) {
		return statusErr(http.StatusPreconditionFailed, "If-Match %s does not match the document (its ETag is %s)", ifMatch, orNone(tag))
	}
	if ifNone != "" && cur != nil && (strings.TrimSpace(ifNone) == "*" || etagListHas(ifNone, tag)) {
		return statusErr(http.StatusPreconditionFailed, "If-None-Match %s: the document exists (ETag %s)", ifNone, tag)
	}
	if q.method == http.MethodPut && cur != nil && ifMatch == "" && ifNone == "" &&
		(d.key.Kind != KindState || q.version == xapi.V200) {
		return statusErr(http.StatusConflict, "the document exists; send If-Match with its ETag %s to replace it", tag)
	}
	return nil
}

func orNone(tag string) string {
	if tag == "" {
		return "(no document)"
	}
	return tag
}

// etagListHas reports whether a header list of entity tags holds tag
// (quoted or not) or "*".
func etagListHas(list, tag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag || `"`+t+`"` == tag {
			return true
		}
	}
	return false
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	var m map[string]json.RawMessage
	return len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &m) == nil
}

// mergeObjects merges the top-level properties of next into cur.
func mergeObjects(cur, next []byte) ([]byte, error) {
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(cur, &a); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(next, &b); err != nil {
		return nil, err
	}
	for k, v := range b {
		a[k] = v
	}
	return json.Marshal(a)
}

// activities answers GET activities: the definition of an activity, merged
// from the statements that carry it.
func (s *Server) activities(q *request) error {
	if q.method != http.MethodGet && q.method != http.MethodHead {
		q.w.Header().Set("Allow", "GET, HEAD")
		return statusErr(http.StatusMethodNotAllowed, "activities takes GET or HEAD")
	}
	if err := checkParams(q, "activityId"); err != nil {
		return err
	}
	id, err := q.iriParam("activityId")
	if err != nil {
		return err
	}
	visible, _, err := s.visible(q)
	if err != nil {
		return err
	}
	// The activity as sent (format=exact), with the definitions of every
	// statement that carries it merged in stored order.
	act := map[string]any{"objectType": "Activity", "id": id}
	var def map[string]any
	for _, e := range visible {
		var st map[string]any
		if json.Unmarshal(e.rec.Full, &st) != nil {
			continue
		}
		for _, a := range rawActivities(st) {
			if a["id"] != id {
				continue
			}
			if _, ok := a["objectType"]; !ok {
				delete(act, "objectType")
			} else {
				act["objectType"] = a["objectType"]
			}
			if d, ok := a["definition"].(map[string]any); ok {
				def = mergeRawDefinition(def, d)
			}
		}
	}
	if def != nil {
		act["definition"] = def
	}
	writeJSON(q.w, q.method, http.StatusOK, act)
	return nil
}

// rawActivities returns the activity objects of a decoded statement: its
// object, its context activities and those of a SubStatement object.
func rawActivities(st map[string]any) []map[string]any {
	var out []map[string]any
	add := func(node map[string]any) {
		if o, ok := node["object"].(map[string]any); ok {
			if t, _ := o["objectType"].(string); t == "" || t == xapi.ObjectTypeActivity {
				out = append(out, o)
			}
		}
		c, _ := node["context"].(map[string]any)
		ca, _ := c["contextActivities"].(map[string]any)
		for _, v := range ca {
			switch list := v.(type) {
			case []any:
				for _, a := range list {
					if m, ok := a.(map[string]any); ok {
						out = append(out, m)
					}
				}
			case map[string]any:
				out = append(out, list)
			}
		}
	}
	add(st)
	if o, ok := st["object"].(map[string]any); ok && o["objectType"] == xapi.ObjectTypeSubStatement {
		add(o)
	}
	return out
}

// mergeRawDefinition lays next over cur: name and description merge by
// language, other properties are replaced.
func mergeRawDefinition(cur, next map[string]any) map[string]any {
	out := make(map[string]any, len(cur)+len(next))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range next {
		if k == "name" || k == "description" {
			if old, ok := out[k].(map[string]any); ok {
				if nm, ok := v.(map[string]any); ok {
					merged := make(map[string]any, len(old)+len(nm))
					for lk, lv := range old {
						merged[lk] = lv
					}
					for lk, lv := range nm {
						merged[lk] = lv
					}
					out[k] = merged
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

// agents answers GET agents: the Person object of an agent.
func (s *Server) agents(q *request) error {
	if q.method != http.MethodGet && q.method != http.MethodHead {
		q.w.Header().Set("Allow", "GET, HEAD")
		return statusErr(http.StatusMethodNotAllowed, "agents takes GET or HEAD")
	}
	if err := checkParams(q, "agent"); err != nil {
		return err
	}
	a, err := q.agentParam("agent")
	if err != nil {
		return err
	}
	if q.p.Learner != nil && AgentKey(a) != AgentKey(q.p.Learner) {
		return statusErr(http.StatusForbidden, "this credential may only look up its own learner")
	}
	person := map[string]any{"objectType": "Person"}
	add := func(k, v string) {
		if v != "" {
			person[k] = []string{v}
		}
	}
	add("name", a.Name)
	add("mbox", a.Mbox)
	add("mbox_sha1sum", a.MboxSHA1Sum)
	add("openid", a.OpenID)
	if a.Account != nil {
		person["account"] = []map[string]string{{"homePage": a.Account.HomePage, "name": a.Account.Name}}
	}
	writeJSON(q.w, q.method, http.StatusOK, person)
	return nil
}
