package lrsserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// filter is the filter of GET statements.
type filter struct {
	agent             string // AgentKey
	verb, activity    string
	registration      string
	relatedActivities bool
	relatedAgents     bool
	since, until      time.Time
}

func parseFilter(q *request) (filter, error) {
	var f filter
	var err error
	if q.has("agent") {
		a, err := q.agentParam("agent")
		if err != nil {
			return f, err
		}
		f.agent = AgentKey(a)
	}
	if q.has("verb") {
		if f.verb, err = q.iriParam("verb"); err != nil {
			return f, err
		}
	}
	if q.has("activity") {
		if f.activity, err = q.iriParam("activity"); err != nil {
			return f, err
		}
	}
	if f.registration, err = q.registrationParam(); err != nil {
		return f, err
	}
	if f.relatedActivities, err = q.boolParam("related_activities"); err != nil {
		return f, err
	}
	if f.relatedAgents, err = q.boolParam("related_agents"); err != nil {
		return f, err
	}
	if f.since, err = q.timeParam("since"); err != nil {
		return f, err
	}
	if f.until, err = q.timeParam("until"); err != nil {
		return f, err
	}
	if !f.since.IsZero() && !f.until.IsZero() && f.until.Before(f.since) {
		return f, statusErr(http.StatusBadRequest, "parameter until (%s) is before since (%s)", q.query.Get("until"), q.query.Get("since"))
	}
	return f, nil
}

// matcher applies a filter, letting a statement that targets a matching
// statement (StatementRef object) match too, as the specification asks.
type matcher struct {
	f    filter
	byID map[string]*entry
	memo map[string]bool
}

func (m *matcher) match(e *entry, depth int) bool {
	if v, ok := m.memo[e.rec.ID]; ok {
		return v
	}
	ok := m.direct(e.st)
	if !ok && depth < 10 {
		if ref, isRef := e.st.Object.(*xapi.StatementRef); isRef {
			if t, found := m.byID[strings.ToLower(ref.ID)]; found {
				ok = m.match(t, depth+1)
			}
		}
	}
	m.memo[e.rec.ID] = ok
	return ok
}

func (m *matcher) direct(st *xapi.Statement) bool {
	f := &m.f
	if f.verb != "" && st.Verb.ID != f.verb {
		return false
	}
	if f.registration != "" && (st.Context == nil || strings.ToLower(st.Context.Registration) != f.registration) {
		return false
	}
	if f.agent != "" && !hasAgent(st.Actor, st.Object, st.Context, st.Authority, f.agent, f.relatedAgents, true) {
		return false
	}
	if f.activity != "" && !hasActivity(st.Object, st.Context, f.activity, f.relatedActivities, true) {
		return false
	}
	return true
}

func actorIs(a *xapi.Actor, key string, members bool) bool {
	if a == nil {
		return false
	}
	if AgentKey(a) == key {
		return true
	}
	if members {
		for i := range a.Member {
			if AgentKey(&a.Member[i]) == key {
				return true
			}
		}
	}
	return false
}

func hasAgent(actor xapi.Actor, obj xapi.Object, c *xapi.Context, authority *xapi.Actor, key string, related, top bool) bool {
	if actorIs(&actor, key, related) {
		return true
	}
	if a, ok := obj.(*xapi.Actor); ok && actorIs(a, key, related) {
		return true
	}
	if !related {
		return false
	}
	if top && actorIs(authority, key, true) {
		return true
	}
	if c != nil {
		if actorIs(c.Instructor, key, true) || actorIs(c.Team, key, true) {
			return true
		}
		for i := range c.ContextAgents {
			if actorIs(&c.ContextAgents[i].Agent, key, true) {
				return true
			}
		}
		for i := range c.ContextGroups {
			if actorIs(&c.ContextGroups[i].Group, key, true) {
				return true
			}
		}
	}
	if sub, ok := obj.(*xapi.SubStatement); ok && top {
		return hasAgent(sub.Actor, sub.Object, sub.Context, nil, key, related, false)
	}
	return false
}

func hasActivity(obj xapi.Object, c *xapi.Context, id string, related, top bool) bool {
	if a, ok := obj.(*xapi.Activity); ok && a.ID == id {
		return true
	}
	if !related {
		return false
	}
	if c != nil && c.ContextActivities != nil {
		ca := c.ContextActivities
		for _, list := range [][]xapi.Activity{ca.Parent, ca.Grouping, ca.Category, ca.Other} {
			for _, a := range list {
				if a.ID == id {
					return true
				}
			}
		}
	}
	if sub, ok := obj.(*xapi.SubStatement); ok && top {
		return hasActivity(sub.Object, sub.Context, id, related, false)
	}
	return false
}

// idsJSON reduces a stored statement to identifiers (format=ids): agents
// and identified groups keep objectType and their identifier, anonymous
// groups their members reduced the same way, verbs and activities their id.
func idsJSON(full []byte) ([]byte, error) {
	var st map[string]any
	if err := json.Unmarshal(full, &st); err != nil {
		return nil, err
	}
	idsStatement(st)
	return json.Marshal(st)
}

func idsStatement(st map[string]any) {
	for _, k := range []string{"actor", "authority"} {
		if a, ok := st[k].(map[string]any); ok {
			st[k] = idsAgent(a)
		}
	}
	if v, ok := st["verb"].(map[string]any); ok {
		st["verb"] = map[string]any{"id": v["id"]}
	}
	if o, ok := st["object"].(map[string]any); ok {
		switch o["objectType"] {
		case xapi.ObjectTypeAgent, xapi.ObjectTypeGroup:
			st["object"] = idsAgent(o)
		case xapi.ObjectTypeSubStatement:
			idsStatement(o)
		case xapi.ObjectTypeStatementRef:
		default:
			st["object"] = map[string]any{"id": o["id"]}
		}
	}
	c, ok := st["context"].(map[string]any)
	if !ok {
		return
	}
	for _, k := range []string{"instructor", "team"} {
		if a, ok := c[k].(map[string]any); ok {
			c[k] = idsAgent(a)
		}
	}
	if ca, ok := c["contextActivities"].(map[string]any); ok {
		for k, v := range ca {
			if list, ok := v.([]any); ok {
				for i, a := range list {
					if m, ok := a.(map[string]any); ok {
						list[i] = map[string]any{"id": m["id"]}
					}
				}
				ca[k] = list
			}
		}
	}
	for k, field := range map[string]string{"contextAgents": "agent", "contextGroups": "group"} {
		if list, ok := c[k].([]any); ok {
			for _, x := range list {
				if m, ok := x.(map[string]any); ok {
					if a, ok := m[field].(map[string]any); ok {
						m[field] = idsAgent(a)
					}
				}
			}
		}
	}
}

// idsAgent keeps what identifies an agent or group.
func idsAgent(a map[string]any) map[string]any {
	out := map[string]any{}
	if t, ok := a["objectType"]; ok {
		out["objectType"] = t
	}
	identified := false
	for _, k := range []string{"mbox", "mbox_sha1sum", "openid", "account"} {
		if v, ok := a[k]; ok {
			out[k] = v
			identified = true
		}
	}
	if !identified {
		if members, ok := a["member"].([]any); ok {
			for i, m := range members {
				if mm, ok := m.(map[string]any); ok {
					members[i] = idsAgent(mm)
				}
			}
			out["member"] = members
		}
	}
	return out
}

// acceptLanguages returns the tags of an Accept-Language header, most
// preferred first.
func acceptLanguages(h string) []string {
	type tq struct {
		tag string
		q   float64
	}
	var list []tq
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if tag == "" {
			continue
		}
		qv := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				qv = f
			}
		}
		list = append(list, tq{tag, qv})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].q > list[j].q })
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = t.tag
	}
	return out
}

// pick reduces a language map to the entry a reader of langs prefers.
func pick(m xapi.LanguageMap, langs []string) xapi.LanguageMap {
	if len(m) <= 1 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, l := range langs {
		for _, k := range keys {
			if strings.EqualFold(k, l) {
				return xapi.LanguageMap{k: m[k]}
			}
		}
		for _, k := range keys {
			if base, _, _ := strings.Cut(k, "-"); strings.EqualFold(base, l) || l == "*" {
				return xapi.LanguageMap{k: m[k]}
			}
		}
	}
	return xapi.LanguageMap{keys[0]: m[keys[0]]}
}

// canonical keeps one language per language map (format=canonical).
func canonical(st *xapi.Statement, langs []string) {
	st.Verb.Display = pick(st.Verb.Display, langs)
	canonObject(st.Object, langs)
	canonContext(st.Context, langs)
	for i := range st.Attachments {
		st.Attachments[i].Display = pick(st.Attachments[i].Display, langs)
		st.Attachments[i].Description = pick(st.Attachments[i].Description, langs)
	}
	if sub, ok := st.Object.(*xapi.SubStatement); ok {
		sub.Verb.Display = pick(sub.Verb.Display, langs)
		canonObject(sub.Object, langs)
		canonContext(sub.Context, langs)
	}
}

func canonActivity(a *xapi.Activity, langs []string) {
	d := a.Definition
	if d == nil {
		return
	}
	d.Name = pick(d.Name, langs)
	d.Description = pick(d.Description, langs)
	for _, list := range [][]xapi.InteractionComponent{d.Choices, d.Scale, d.Source, d.Target, d.Steps} {
		for i := range list {
			list[i].Description = pick(list[i].Description, langs)
		}
	}
}

func canonObject(o xapi.Object, langs []string) {
	if a, ok := o.(*xapi.Activity); ok {
		canonActivity(a, langs)
	}
}

func canonContext(c *xapi.Context, langs []string) {
	if c == nil || c.ContextActivities == nil {
		return
	}
	ca := c.ContextActivities
	for _, list := range [][]xapi.Activity{ca.Parent, ca.Grouping, ca.Category, ca.Other} {
		for i := range list {
			canonActivity(&list[i], langs)
		}
	}
}
