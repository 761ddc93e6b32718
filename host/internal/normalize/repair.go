package normalize

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Repair is one invalid optional property of a content statement that the
// normalizer repaired or dropped so that the statement could be kept. The
// rules are listed in the package documentation.
type Repair struct {
	// Rule names the rule applied, for example "interaction-type-unknown".
	Rule string
	// Field is the JSON path of the property in the event, for example
	// "payload.statement.object.definition.interactionType".
	Field string
}

// The repair rules, named in Repair.Rule.
const (
	RepairInteractionType       = "interaction-type-unknown"
	RepairInteractionComponents = "interaction-components-not-allowed"
	RepairComponentIDs          = "interaction-component-ids-invalid"
	RepairLanguageTag           = "language-tag-invalid"
	RepairActivityType          = "activity-type-invalid"
	RepairMoreInfo              = "more-info-invalid"
	RepairScoreScaled           = "score-scaled-out-of-range"
	RepairScoreRange            = "score-range-invalid"
	RepairDuration              = "duration-invalid"
	RepairContextActivityOnly   = "context-activity-only"
)

// componentLists names the interaction component lists of a definition.
var componentLists = []string{"choices", "scale", "source", "target", "steps"}

// allowedComponents returns the component lists an interaction type
// allows.
func allowedComponents(itype string) []string {
	switch itype {
	case "choice", "sequencing":
		return []string{"choices"}
	case "likert":
		return []string{"scale"}
	case "matching":
		return []string{"source", "target"}
	case "performance":
		return []string{"steps"}
	}
	return nil
}

// repairer repairs the optional properties of one content statement found
// at base in the event.
type repairer struct {
	base string
	out  *[]Repair
}

func (r repairer) add(rule, field string) {
	*r.out = append(*r.out, Repair{Rule: rule, Field: r.base + "." + field})
}

// repairForeign applies the repair rules to st, a statement content sent at
// path in the event, and records what it changed in j.repairs.
func (j *job) repairForeign(st *xapi.Statement, path string) {
	r := repairer{base: path, out: &j.repairs}
	r.statement("", &st.Verb, st.Object, &st.Result, st.Context)
	if sub, ok := st.Object.(*xapi.SubStatement); ok {
		r.statement("object.", &sub.Verb, sub.Object, &sub.Result, sub.Context)
	}
}

func (r repairer) statement(p string, v *xapi.Verb, obj xapi.Object, res **xapi.Result, c *xapi.Context) {
	r.languageMap(v.Display, p+"verb.display")
	act, isActivity := obj.(*xapi.Activity)
	if isActivity {
		r.activity(act, p+"object")
	}
	r.result(res, p+"result")
	r.context(c, p+"context", isActivity)
}

func (r repairer) activity(a *xapi.Activity, p string) {
	d := a.Definition
	if d == nil {
		return
	}
	p += ".definition"
	r.languageMap(d.Name, p+".name")
	r.languageMap(d.Description, p+".description")
	if d.Type != "" && !xapi.IsIRI(d.Type) {
		d.Type = ""
		r.add(RepairActivityType, p+".type")
	}
	if d.MoreInfo != "" && !xapi.IsIRL(d.MoreInfo) {
		d.MoreInfo = ""
		r.add(RepairMoreInfo, p+".moreInfo")
	}
	lists := map[string]*[]xapi.InteractionComponent{
		"choices": &d.Choices, "scale": &d.Scale, "source": &d.Source, "target": &d.Target, "steps": &d.Steps,
	}
	if d.InteractionType != "" && !slices.Contains(xapi.InteractionTypes, d.InteractionType) {
		// Without a known type the correct responses and components
		// cannot be read: they go with it.
		d.InteractionType = ""
		d.CorrectResponsesPattern = nil
		for _, name := range componentLists {
			*lists[name] = nil
		}
		r.add(RepairInteractionType, p+".interactionType")
		return
	}
	if d.InteractionType == "" && d.CorrectResponsesPattern != nil {
		d.CorrectResponsesPattern = nil
		r.add(RepairInteractionComponents, p+".correctResponsesPattern")
	}
	allowed := allowedComponents(d.InteractionType)
	for _, name := range componentLists {
		list := lists[name]
		if *list == nil {
			continue
		}
		if !slices.Contains(allowed, name) {
			*list = nil
			r.add(RepairInteractionComponents, p+"."+name)
			continue
		}
		if !componentIDsValid(*list) {
			*list = nil
			r.add(RepairComponentIDs, p+"."+name)
			continue
		}
		for i := range *list {
			r.languageMap((*list)[i].Description, p+"."+name+"["+strconv.Itoa(i)+"].description")
		}
	}
}

// componentIDsValid reports whether every id of list is non-empty, free of
// white space and unique in the list.
func componentIDsValid(list []xapi.InteractionComponent) bool {
	seen := make(map[string]bool, len(list))
	for _, c := range list {
		if c.ID == "" || strings.ContainsFunc(c.ID, unicode.IsSpace) || seen[c.ID] {
			return false
		}
		seen[c.ID] = true
	}
	return true
}

// languageMap removes the entries of m whose key is not a language tag.
func (r repairer) languageMap(m xapi.LanguageMap, p string) {
	for k := range m {
		if !xapi.IsLanguageTag(k) {
			delete(m, k)
			r.add(RepairLanguageTag, p+"["+strconv.Quote(k)+"]")
		}
	}
}

// result repairs the score of *rp, and removes a result the repairs left
// empty.
func (r repairer) result(rp **xapi.Result, p string) {
	res := *rp
	if res == nil {
		return
	}
	if s := res.Score; s != nil {
		if s.Scaled != nil && (*s.Scaled < -1 || *s.Scaled > 1) {
			s.Scaled = nil
			r.add(RepairScoreScaled, p+".score.scaled")
		}
		if s.Min != nil && s.Max != nil && *s.Min >= *s.Max ||
			s.Raw != nil && (s.Min != nil && *s.Raw < *s.Min || s.Max != nil && *s.Raw > *s.Max) {
			s.Min, s.Max = nil, nil
			r.add(RepairScoreRange, p+".score")
		}
		if s.Scaled == nil && s.Raw == nil && s.Min == nil && s.Max == nil {
			res.Score = nil
			if res.Success == nil && res.Completion == nil && res.Response == nil && res.Duration == nil && len(res.Extensions) == 0 {
				*rp = nil
			}
		}
	}
}

func (r repairer) context(c *xapi.Context, p string, activityObject bool) {
	if c == nil {
		return
	}
	if c.Language != "" && !xapi.IsLanguageTag(c.Language) {
		c.Language = ""
		r.add(RepairLanguageTag, p+".language")
	}
	if !activityObject {
		if c.Platform != "" {
			c.Platform = ""
			r.add(RepairContextActivityOnly, p+".platform")
		}
		if c.Revision != "" {
			c.Revision = ""
			r.add(RepairContextActivityOnly, p+".revision")
		}
	}
	if ca := c.ContextActivities; ca != nil {
		for name, list := range map[string][]xapi.Activity{"parent": ca.Parent, "grouping": ca.Grouping, "category": ca.Category, "other": ca.Other} {
			for i := range list {
				r.activity(&list[i], p+".contextActivities."+name+"["+strconv.Itoa(i)+"]")
			}
		}
	}
}

// repairDuration removes result.duration from the undecoded statement m
// when it is not a valid ISO 8601 duration: the decoder would refuse the
// whole statement for it.
func (r repairer) repairDuration(m map[string]json.RawMessage) {
	raw := m["result"]
	if jsonKind(raw) != '{' {
		return
	}
	var res map[string]json.RawMessage
	if json.Unmarshal(raw, &res) != nil {
		return
	}
	d, ok := res["duration"]
	if !ok {
		return
	}
	var s string
	if json.Unmarshal(d, &s) == nil {
		if _, err := xapi.ParseDuration(s); err == nil {
			return
		}
	}
	delete(res, "duration")
	b, err := json.Marshal(res)
	if err != nil {
		return
	}
	m["result"] = b
	r.add(RepairDuration, "result.duration")
}
