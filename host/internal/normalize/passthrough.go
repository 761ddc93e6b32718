package normalize

import (
	"encoding/json"
	"errors"

	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// foreign is a statement that content produced, decoded with the
// properties LearningFlow sets itself taken out.
type foreign struct {
	st *xapi.Statement
	// id and timestamp are the raw values the content gave, nil if none.
	id, timestamp json.RawMessage
}

// Properties of a content statement that are never parsed: LearningFlow sets
// the actor, id and timestamp itself, and stored, authority and version
// belong to the LRS. Removing the actor before parsing is what lets legacy
// array-valued actors through.
var strippedKeys = []string{"actor", "id", "timestamp", "stored", "authority", "version"}

// parseForeign decodes the content statement raw found at path strictly,
// except for the stripped keys.
func (j *job) parseForeign(raw json.RawMessage, path string) (*foreign, error) {
	obj, err := j.object(raw, path)
	if err != nil {
		return nil, err
	}
	f := &foreign{id: obj.get("id"), timestamp: obj.get("timestamp")}
	for _, k := range strippedKeys {
		delete(obj.m, k)
	}
	r := repairer{base: path, out: &j.repairs}
	r.repairDuration(obj.m)
	body, err := json.Marshal(obj.m)
	if err != nil {
		return nil, j.fail(path, "cannot re-encode: %v", err)
	}
	st, err := xapi.Parse(body)
	if err != nil {
		var probs xapi.Problems
		field := path
		if errors.As(err, &probs) && len(probs) > 0 && probs[0].Path != "" {
			field += "." + probs[0].Path
		}
		return nil, j.failErr(field, err)
	}
	j.repairForeign(st, path)
	pruneEmpty(st)
	f.st = st
	return f, nil
}

// mergeContext forces LearningFlow's registration onto the statement and
// adds what the content left out: the platform (for an activity object),
// the course language and the course and assignment grouping.
func (j *job) mergeContext(st *xapi.Statement) {
	c := st.Context
	if c == nil {
		c = new(xapi.Context)
		st.Context = c
	}
	c.Registration = j.registration
	if _, ok := st.Object.(*xapi.Activity); ok && c.Platform == "" {
		c.Platform = j.s.Platform
	}
	if c.Language == "" {
		c.Language = j.lang
	}
	if len(j.grouping) == 0 {
		return
	}
	if c.ContextActivities == nil {
		c.ContextActivities = new(xapi.ContextActivities)
	}
	ca := c.ContextActivities
next:
	for _, g := range j.grouping {
		for _, have := range ca.Grouping {
			if have.ID == g.ID {
				continue next
			}
		}
		ca.Grouping = append(ca.Grouping, g)
	}
}

// isToolbarVerb reports whether id is one of the verbs H5P's toolbar puts
// into the ADL namespace although ADL does not define them: downloaded,
// copied and accessed-*.
func isToolbarVerb(id string) bool {
	word, ok := strings.CutPrefix(id, adlVerbs)
	return ok && (word == "downloaded" || word == "copied" || strings.HasPrefix(word, "accessed-"))
}

// h5p: a statement H5P content emitted in the browser.
func (j *job) h5p() ([]out, error) {
	p, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	raw := p.get("statement")
	if raw == nil {
		return nil, j.fail("payload.statement", "required")
	}
	const path = "payload.statement"
	f, err := j.parseForeign(raw, path)
	if err != nil {
		return nil, err
	}
	st := f.st
	act, ok := st.Object.(*xapi.Activity)
	switch {
	case st.Object == nil:
		return nil, j.fail(path+".object", "required")
	case !ok:
		return nil, j.fail(path+".object.objectType", "want an Activity, got %s", st.Object.ObjectTypeName())
	case act.ID == "":
		return nil, j.fail(path+".object.id", "required (H5P editor previews have no object id)")
	}
	if isToolbarVerb(st.Verb.ID) {
		return nil, nil
	}
	actor, err := j.learner()
	if err != nil {
		return nil, err
	}
	st.Actor = actor
	st.Timestamp = j.at
	plainDefinition(act.Definition)
	pruneActivity(act)
	j.mergeContext(st)
	return []out{{st: st, field: path}}, nil
}

// xapiStatements: statements an xAPI package (Storyline, Rise, ...) sent.
func (j *job) xapiStatements() ([]out, error) {
	p, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	raws, err := p.array("statements")
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, j.fail("payload.statements", "required")
	}
	actor, err := j.learner()
	if err != nil {
		return nil, err
	}
	outs := make([]out, 0, len(raws))
	seen := make(map[string]int, len(raws))
	for i, raw := range raws {
		path := "payload.statements[" + strconv.Itoa(i) + "]"
		f, err := j.parseForeign(raw, path)
		if err != nil {
			return nil, err
		}
		st := f.st
		if st.Verb.ID == xapi.VerbVoided {
			return nil, j.failErr(path+".verb.id", ErrVoiding)
		}
		for k, a := range st.Attachments {
			if a.FileURL == "" {
				return nil, j.fail(path+".attachments["+strconv.Itoa(k)+"].fileUrl",
					"required: attachment data is not forwarded")
			}
		}
		var id string
		if jsonKind(f.id) == '"' && json.Unmarshal(f.id, &id) == nil && xapi.IsUUID(id) {
			id = strings.ToLower(id)
			if prev, dup := seen[id]; dup {
				return nil, j.fail(path+".id", "same id as payload.statements[%d]", prev)
			}
			seen[id] = i
			st.ID = id
		}
		st.Timestamp = j.foreignTime(f.timestamp)
		st.Actor = actor
		j.mergeContext(st)
		outs = append(outs, out{st: st, field: path})
	}
	// A derived id could only equal a kept one by a UUIDv5 collision, but
	// the LRS rejects a batch with duplicate ids, so make sure.
	for i, o := range outs {
		if o.st.ID == "" {
			if _, dup := seen[j.statementID(i)]; dup {
				return nil, j.fail(o.field+".id", "derived id collides with a given one")
			}
		}
	}
	return outs, nil
}

// foreignTime returns the content's timestamp in UTC when it is a valid
// RFC 3339 timestamp with a zone that does not lie in the future, and the
// event time otherwise.
func (j *job) foreignTime(raw json.RawMessage) time.Time {
	var s string
	if jsonKind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return j.at
	}
	t, err := xapi.ParseTimestamp(s)
	if err != nil || t.After(j.now.Add(futureSkew)) {
		return j.at
	}
	return t
}
