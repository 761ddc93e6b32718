package xapi

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks s against the rules of xAPI for the target version v and
// returns every problem found, in a stable order; an empty result means s is
// valid. Validate does not modify s.
//
// Each Problem's Path is the JSON path of the offending value: properties are
// joined with dots, array elements are written [i], and map keys (language
// tags, extension IRIs) are written as quoted strings in brackets, for example
//
//	object.definition.choices[1].id
//	context.contextActivities.parent[0].id
//	verb.display["en-US"]
//	result.extensions["http://example.com/ext"]
//
// A missing required property is reported at the path where it belongs.
//
// Validate applies the rules an LRS enforces with 400 Bad Request, and a few
// that the specification states as SHOULD but strict LRSs enforce as well:
// empty language maps, empty contextActivities, attachments and interaction
// component lists, and interaction component ids containing white space are
// rejected. The rules of JSON decoding (unknown keys, null, JSON types,
// timestamp syntax) belong to Parse; for statements built in Go, Validate
// checks the parts of them that a Go value can still break, such as
// objectType values and timestamps that cannot be written in RFC 3339.
//
// For V103, the xAPI 2.0 properties context.contextAgents and
// context.contextGroups are reported with RuleNotInVersion. The statement
// version property, when set, must be "1.0" or "1.0.x" for V103, and may also
// be "2.0.0" for V200. A target version other than V103 and V200 is reported
// as a RuleVersion problem with an empty path, and s is validated as for V103.
//
// A nil s is reported as one RuleRequired problem with an empty path.
// Validate does not allocate for a valid statement.
func Validate(s *Statement, v Version) Problems {
	if s == nil {
		return Problems{{Rule: RuleRequired, Message: "no statement"}}
	}
	val := validator{version: v}
	if v != V103 && v != V200 {
		// A caller's mistake; validate by the stricter rules of 1.0.3.
		val.add(nil, RuleVersion, "unsupported target version "+quote(string(v))+", validated as 1.0.3")
		val.version = V103
	}
	val.statement(s)
	return val.problems
}

// validator collects the problems of one statement.
type validator struct {
	version  Version
	problems Problems
}

func (v *validator) add(p *path, rule Rule, msg string) {
	v.problems = append(v.problems, Problem{Path: p.String(), Rule: rule, Message: msg})
}

// path is a JSON path built from segments that live on the stack of the
// validator's calls. It is turned into a string only when a problem is
// recorded, so that valid statements cost no allocations. The nil *path is
// the statement itself.
type path struct {
	parent *path
	name   string // property name or map key
	index  int    // array index
	kind   pathKind
}

type pathKind uint8

const (
	pathField pathKind = iota
	pathIndex
	pathKey
)

// field returns the path of property name below p.
func (p *path) field(name string) path { return path{parent: p, name: name, kind: pathField} }

// at returns the path of array element i below p.
func (p *path) at(i int) path { return path{parent: p, index: i, kind: pathIndex} }

// key returns the path of map key k below p.
func (p *path) key(k string) path { return path{parent: p, name: k, kind: pathKey} }

// String formats p as described on Validate.
func (p *path) String() string {
	if p == nil {
		return ""
	}
	return string(p.append(make([]byte, 0, 64)))
}

func (p *path) append(b []byte) []byte {
	if p == nil {
		return b
	}
	b = p.parent.append(b)
	switch p.kind {
	case pathIndex:
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(p.index), 10)
		b = append(b, ']')
	case pathKey:
		b = append(b, '[')
		b = strconv.AppendQuote(b, p.name)
		b = append(b, ']')
	default:
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, p.name...)
	}
	return b
}

func (v *validator) statement(s *Statement) {
	if s.ID != "" && !IsUUID(s.ID) {
		p := (*path)(nil).field("id")
		v.add(&p, RuleUUID, "id "+quote(s.ID)+" is not a UUID in hyphenated form")
	}
	v.core(nil, &s.Actor, &s.Verb, s.Object, s.Result, s.Context, false)
	v.timestamp(nil, "timestamp", s.Timestamp)
	v.timestamp(nil, "stored", s.Stored)
	if s.Authority != nil {
		p := (*path)(nil).field("authority")
		v.authority(&p, s.Authority)
	}
	if s.Version != "" && !v.versionAllowed(s.Version) {
		p := (*path)(nil).field("version")
		want := `"1.0" or "1.0.x"`
		if v.version == V200 {
			want = `"1.0", "1.0.x" or "2.0.0"`
		}
		v.add(&p, RuleVersion, "version "+quote(s.Version)+" is not allowed for xAPI "+string(v.version)+", want "+want)
	}
	v.attachments(nil, s.Attachments)
}

// core checks what statements and sub-statements share: actor, verb, object,
// result and context. p is the path of the statement (nil for the top).
func (v *validator) core(p *path, actor *Actor, verb *Verb, obj Object, res *Result, ctx *Context, inSub bool) {
	ap := p.field("actor")
	if isZeroActor(actor) {
		v.add(&ap, RuleRequired, "actor is required")
	} else {
		v.actor(&ap, actor)
	}

	vp := p.field("verb")
	if verb.ID == "" && verb.Display == nil {
		v.add(&vp, RuleRequired, "verb is required")
	} else {
		v.verb(&vp, verb)
	}

	op := p.field("object")
	v.object(&op, obj, inSub)
	if verb.ID == VerbVoided {
		if _, ok := obj.(*StatementRef); !ok && obj != nil {
			v.add(&op, RuleVoiding, "the voided verb requires a StatementRef object")
		}
	}

	if res != nil {
		rp := p.field("result")
		v.result(&rp, res)
	}
	if ctx != nil {
		cp := p.field("context")
		_, isActivity := obj.(*Activity)
		v.context(&cp, ctx, isActivity || obj == nil)
	}
}

func (v *validator) subStatement(p *path, s *SubStatement) {
	v.core(p, &s.Actor, &s.Verb, s.Object, s.Result, s.Context, true)
	v.timestamp(p, "timestamp", s.Timestamp)
	v.attachments(p, s.Attachments)
}

func (v *validator) object(p *path, obj Object, inSub bool) {
	switch o := obj.(type) {
	case nil:
		v.add(p, RuleRequired, "object is required")
	case *Activity:
		if o == nil {
			v.add(p, RuleRequired, "object is required")
			return
		}
		v.activity(p, o)
	case *Actor:
		if o == nil {
			v.add(p, RuleRequired, "object is required")
			return
		}
		v.actor(p, o)
	case *StatementRef:
		if o == nil {
			v.add(p, RuleRequired, "object is required")
			return
		}
		v.statementRef(p, o)
	case *SubStatement:
		if o == nil {
			v.add(p, RuleRequired, "object is required")
			return
		}
		if inSub {
			v.add(p, RuleSubStatement, "a SubStatement cannot contain a SubStatement")
			return
		}
		v.subStatement(p, o)
	}
}

func (v *validator) statementRef(p *path, r *StatementRef) {
	ip := p.field("id")
	switch {
	case r.ID == "":
		v.add(&ip, RuleRequired, "a StatementRef needs an id")
	case !IsUUID(r.ID):
		v.add(&ip, RuleUUID, "id "+quote(r.ID)+" is not a UUID in hyphenated form")
	}
}

func (v *validator) timestamp(p *path, name string, t time.Time) {
	if t.IsZero() {
		return
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		tp := p.field(name)
		v.add(&tp, RuleTimestamp, name+" year "+strconv.Itoa(y)+" cannot be written in RFC 3339")
	}
}

// versionAllowed reports whether the statement version property s is
// accepted by the target version: "1.0", or "1.0." followed by a patch
// number and an optional semantic-versioning pre-release and build suffix;
// for V200 also "2.0.0".
func (v *validator) versionAllowed(s string) bool {
	if v.version == V200 && s == "2.0.0" {
		return true
	}
	rest, ok := strings.CutPrefix(s, "1.0")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	if rest[0] != '.' {
		return false
	}
	rest = rest[1:]
	n := 0
	for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return false
	}
	rest = rest[n:]
	if r, ok := strings.CutPrefix(rest, "-"); ok {
		pre, build, hasBuild := strings.Cut(r, "+")
		return semverIdents(pre) && (!hasBuild || semverIdents(build))
	}
	if r, ok := strings.CutPrefix(rest, "+"); ok {
		return semverIdents(r)
	}
	return rest == ""
}

// semverIdents reports whether s is a dot-separated list of non-empty
// identifiers of ASCII letters, digits and hyphens.
func semverIdents(s string) bool {
	if s == "" {
		return false
	}
	for ident := range strings.SplitSeq(s, ".") {
		if ident == "" {
			return false
		}
		for i := 0; i < len(ident); i++ {
			c := ident[i]
			if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Actors.

func isZeroActor(a *Actor) bool {
	return a.ObjectType == "" && a.Name == "" && a.Mbox == "" && a.MboxSHA1Sum == "" &&
		a.OpenID == "" && a.Account == nil && a.Member == nil
}

// ifiCount returns how many inverse functional identifiers a has.
func ifiCount(a *Actor) int {
	n := 0
	if a.Mbox != "" {
		n++
	}
	if a.MboxSHA1Sum != "" {
		n++
	}
	if a.OpenID != "" {
		n++
	}
	if a.Account != nil {
		n++
	}
	return n
}

// actor checks an agent or group.
func (v *validator) actor(p *path, a *Actor) {
	switch a.ObjectType {
	case "", ObjectTypeAgent:
		v.agent(p, a)
	case ObjectTypeGroup:
		v.group(p, a)
	default:
		tp := p.field("objectType")
		v.add(&tp, RuleObjectType, "objectType "+quote(a.ObjectType)+" is not Agent or Group")
	}
}

// agent checks an actor that must be an agent; a group here is reported
// with RuleObjectType.
func (v *validator) agent(p *path, a *Actor) {
	switch a.ObjectType {
	case "", ObjectTypeAgent:
	default:
		tp := p.field("objectType")
		v.add(&tp, RuleObjectType, "objectType "+quote(a.ObjectType)+" is not allowed here, want \"Agent\"")
		return
	}
	if a.Member != nil {
		tp := p.field("objectType")
		v.add(&tp, RuleObjectType, "an agent cannot have members; a group needs objectType \"Group\"")
	}
	switch n := ifiCount(a); {
	case n == 0:
		v.add(p, RuleIFI, "an agent needs one of mbox, mbox_sha1sum, openid or account")
	case n > 1:
		v.add(p, RuleIFI, "an agent has "+strconv.Itoa(n)+" of mbox, mbox_sha1sum, openid and account, want exactly one")
	}
	v.ifis(p, a)
}

// group checks an actor whose objectType is Group.
func (v *validator) group(p *path, a *Actor) {
	n := ifiCount(a)
	if n > 1 {
		v.add(p, RuleIFI, "a group has "+strconv.Itoa(n)+" of mbox, mbox_sha1sum, openid and account, want at most one")
	}
	v.ifis(p, a)
	mp := p.field("member")
	if n == 0 && len(a.Member) == 0 {
		v.add(&mp, RuleGroupMember, "an anonymous group needs at least one member")
	}
	for i := range a.Member {
		m := &a.Member[i]
		ip := mp.at(i)
		switch m.ObjectType {
		case "", ObjectTypeAgent:
			v.agent(&ip, m)
		case ObjectTypeGroup:
			v.add(&ip, RuleGroupMember, "a group member cannot be a group")
		default:
			tp := ip.field("objectType")
			v.add(&tp, RuleObjectType, "objectType "+quote(m.ObjectType)+" is not allowed here, want \"Agent\"")
		}
	}
}

// ifis checks the syntax of each identifier a has.
func (v *validator) ifis(p *path, a *Actor) {
	if a.Mbox != "" && !IsMailto(a.Mbox) {
		fp := p.field("mbox")
		v.add(&fp, RuleMailto, "mbox "+quote(a.Mbox)+" is not \"mailto:\" and an email address")
	}
	if a.MboxSHA1Sum != "" && !IsSHA1Hex(a.MboxSHA1Sum) {
		fp := p.field("mbox_sha1sum")
		v.add(&fp, RuleSHA1Sum, "mbox_sha1sum "+quote(a.MboxSHA1Sum)+" is not 40 hexadecimal digits")
	}
	if a.OpenID != "" && !IsIRI(a.OpenID) {
		fp := p.field("openid")
		v.add(&fp, RuleIRI, "openid "+quote(a.OpenID)+" is not an absolute URI")
	}
	if acc := a.Account; acc != nil {
		ap := p.field("account")
		hp := ap.field("homePage")
		switch {
		case acc.HomePage == "":
			v.add(&hp, RuleRequired, "an account needs a homePage")
		case !IsIRL(acc.HomePage):
			v.add(&hp, RuleIRL, "homePage "+quote(acc.HomePage)+" is not an IRL")
		}
		if acc.Name == "" {
			np := ap.field("name")
			v.add(&np, RuleRequired, "an account needs a name")
		}
	}
}

// authority checks statement.authority: an agent, or an anonymous group of
// exactly two agents (three-legged OAuth).
func (v *validator) authority(p *path, a *Actor) {
	v.actor(p, a)
	if !a.IsGroup() {
		return
	}
	if ifiCount(a) != 0 {
		v.add(p, RuleAuthority, "an authority group must be anonymous")
	}
	if len(a.Member) != 2 {
		mp := p.field("member")
		v.add(&mp, RuleAuthority, "an authority group has "+strconv.Itoa(len(a.Member))+" members, want exactly two agents")
	}
}

// Verbs and activities.

func (v *validator) verb(p *path, vb *Verb) {
	ip := p.field("id")
	switch {
	case vb.ID == "":
		v.add(&ip, RuleRequired, "a verb needs an id")
	case !IsIRI(vb.ID):
		v.add(&ip, RuleIRI, "verb id "+quote(vb.ID)+" is not an absolute IRI")
	}
	if vb.Display != nil {
		dp := p.field("display")
		v.languageMap(&dp, vb.Display)
	}
}

func (v *validator) activity(p *path, a *Activity) {
	ip := p.field("id")
	switch {
	case a.ID == "":
		v.add(&ip, RuleRequired, "an activity needs an id")
	case !IsIRI(a.ID):
		v.add(&ip, RuleIRI, "activity id "+quote(a.ID)+" is not an absolute IRI")
	}
	if a.Definition != nil {
		dp := p.field("definition")
		v.definition(&dp, a.Definition)
	}
}

// Interaction component lists, as bits.
const (
	compChoices uint8 = 1 << iota
	compScale
	compSource
	compTarget
	compSteps
)

// interactionComponents returns the component lists interaction type t
// allows, and whether t is an interaction type at all.
func interactionComponents(t string) (allowed uint8, ok bool) {
	switch t {
	case "choice", "sequencing":
		return compChoices, true
	case "likert":
		return compScale, true
	case "matching":
		return compSource | compTarget, true
	case "performance":
		return compSteps, true
	case "true-false", "fill-in", "long-fill-in", "numeric", "other":
		return 0, true
	}
	return 0, false
}

func (v *validator) definition(p *path, d *ActivityDefinition) {
	if d.Name != nil {
		np := p.field("name")
		v.languageMap(&np, d.Name)
	}
	if d.Description != nil {
		np := p.field("description")
		v.languageMap(&np, d.Description)
	}
	if d.Type != "" && !IsIRI(d.Type) {
		tp := p.field("type")
		v.add(&tp, RuleIRI, "type "+quote(d.Type)+" is not an absolute IRI")
	}
	if d.MoreInfo != "" && !IsIRL(d.MoreInfo) {
		mp := p.field("moreInfo")
		v.add(&mp, RuleIRL, "moreInfo "+quote(d.MoreInfo)+" is not an IRL")
	}

	// checkAllowed is false when the interaction type is unknown: which
	// lists it allows cannot be said, and the type is reported already.
	allowed, checkAllowed := uint8(0), true
	switch d.InteractionType {
	case "":
		if d.CorrectResponsesPattern != nil {
			cp := p.field("correctResponsesPattern")
			v.add(&cp, RuleInteractionComponents, "correctResponsesPattern requires an interactionType")
		}
	default:
		var ok bool
		allowed, ok = interactionComponents(d.InteractionType)
		if !ok {
			checkAllowed = false
			tp := p.field("interactionType")
			v.add(&tp, RuleInteractionType, "interactionType "+quote(d.InteractionType)+" is not one of "+strings.Join(InteractionTypes, ", "))
		}
	}
	v.components(p, "choices", d.Choices, compChoices, allowed, checkAllowed, d.InteractionType)
	v.components(p, "scale", d.Scale, compScale, allowed, checkAllowed, d.InteractionType)
	v.components(p, "source", d.Source, compSource, allowed, checkAllowed, d.InteractionType)
	v.components(p, "target", d.Target, compTarget, allowed, checkAllowed, d.InteractionType)
	v.components(p, "steps", d.Steps, compSteps, allowed, checkAllowed, d.InteractionType)

	if d.Extensions != nil {
		ep := p.field("extensions")
		v.extensions(&ep, d.Extensions)
	}
}

// components checks one interaction component list of a definition (p):
// whether the interaction type allows it, that it is not empty, and that its
// ids are non-empty, free of white space and unique.
func (v *validator) components(p *path, name string, list []InteractionComponent, bit, allowed uint8, checkAllowed bool, itype string) {
	if list == nil {
		return
	}
	lp := p.field(name)
	switch {
	case checkAllowed && allowed&bit == 0:
		if itype == "" {
			v.add(&lp, RuleInteractionComponents, name+" requires an interactionType")
		} else {
			v.add(&lp, RuleInteractionComponents, name+" is not allowed for interactionType "+quote(itype))
		}
	case len(list) == 0:
		v.add(&lp, RuleInteractionComponents, name+" is empty")
	}
	for i := range list {
		c := &list[i]
		cp := lp.at(i)
		ip := cp.field("id")
		switch {
		case c.ID == "":
			v.add(&ip, RuleComponentID, "an interaction component needs an id")
		case strings.ContainsFunc(c.ID, isSpace):
			v.add(&ip, RuleComponentID, "interaction component id "+quote(c.ID)+" contains white space")
		case componentSeen(list[:i], c.ID):
			v.add(&ip, RuleComponentID, "interaction component id "+quote(c.ID)+" is not unique in "+name)
		}
		if c.Description != nil {
			dp := cp.field("description")
			v.languageMap(&dp, c.Description)
		}
	}
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0:
		return true
	}
	return r > 0xFF && (r == 0x1680 || 0x2000 <= r && r <= 0x200A || r == 0x2028 || r == 0x2029 ||
		r == 0x202F || r == 0x205F || r == 0x3000)
}

// componentSeen reports whether id is the id of one of list. Lists are
// short, so a linear scan costs less than building a set.
func componentSeen(list []InteractionComponent, id string) bool {
	for i := range list {
		if list[i].ID == id {
			return true
		}
	}
	return false
}

// Maps.

// languageMap checks that m is not empty and that its keys are language
// tags. Bad keys are reported in sorted order.
func (v *validator) languageMap(p *path, m LanguageMap) {
	if len(m) == 0 {
		v.add(p, RuleRequired, "a language map needs at least one entry")
		return
	}
	bad := 0
	for k := range m {
		if !IsLanguageTag(k) {
			bad++
		}
	}
	if bad == 0 {
		return
	}
	keys := make([]string, 0, bad)
	for k := range m {
		if !IsLanguageTag(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		kp := p.key(k)
		v.add(&kp, RuleLanguageTag, quote(k)+" is not an RFC 5646 language tag")
	}
}

// extensions checks that the keys of e are IRIs; values are never grounds
// for rejection. Bad keys are reported in sorted order.
func (v *validator) extensions(p *path, e Extensions) {
	bad := 0
	for k := range e {
		if !IsIRI(k) {
			bad++
		}
	}
	if bad == 0 {
		return
	}
	keys := make([]string, 0, bad)
	for k := range e {
		if !IsIRI(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		kp := p.key(k)
		v.add(&kp, RuleIRI, "extension key "+quote(k)+" is not an absolute IRI")
	}
}

// Result.

func (v *validator) result(p *path, r *Result) {
	if r.Score != nil {
		sp := p.field("score")
		v.score(&sp, r.Score)
	}
	if r.Duration != nil {
		dp := p.field("duration")
		v.duration(&dp, r.Duration)
	}
	if r.Extensions != nil {
		ep := p.field("extensions")
		v.extensions(&ep, r.Extensions)
	}
}

func (v *validator) score(p *path, s *Score) {
	finite := func(name string, f *float64) bool {
		if f == nil {
			return false
		}
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			fp := p.field(name)
			v.add(&fp, RuleJSONType, name+" is not a finite number")
			return false
		}
		return true
	}
	hasScaled := finite("scaled", s.Scaled)
	hasRaw := finite("raw", s.Raw)
	hasMin := finite("min", s.Min)
	hasMax := finite("max", s.Max)
	if hasScaled && (*s.Scaled < -1 || *s.Scaled > 1) {
		fp := p.field("scaled")
		v.add(&fp, RuleScoreScaled, "scaled "+formatFloat(*s.Scaled)+" is outside [-1, 1]")
	}
	if hasRaw && (hasMin && *s.Raw < *s.Min || hasMax && *s.Raw > *s.Max) {
		fp := p.field("raw")
		v.add(&fp, RuleScoreRaw, "raw "+formatFloat(*s.Raw)+" is outside [min, max]")
	}
	if hasMin && hasMax && !(*s.Min < *s.Max) {
		fp := p.field("min")
		v.add(&fp, RuleScoreMinMax, "min "+formatFloat(*s.Min)+" is not less than max "+formatFloat(*s.Max))
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// duration checks the invariants of a Duration that a Go value can break;
// decoded durations always hold them.
func (v *validator) duration(p *path, d *Duration) {
	switch {
	case d.Years < 0 || d.Months < 0 || d.Weeks < 0 || d.Days < 0 || d.Time < 0:
		v.add(p, RuleDuration, "a duration cannot be negative")
	case d.Weeks != 0 && (d.Years != 0 || d.Months != 0 || d.Days != 0 || d.Time != 0):
		v.add(p, RuleDuration, "weeks cannot be combined with other parts of a duration")
	}
}

// Context.

func (v *validator) context(p *path, c *Context, objectIsActivity bool) {
	if c.Registration != "" && !IsUUID(c.Registration) {
		rp := p.field("registration")
		v.add(&rp, RuleUUID, "registration "+quote(c.Registration)+" is not a UUID in hyphenated form")
	}
	if c.Instructor != nil {
		ip := p.field("instructor")
		v.actor(&ip, c.Instructor)
	}
	if c.Team != nil {
		tp := p.field("team")
		if !c.Team.IsGroup() {
			v.add(&tp, RuleContextTeam, "team must be a group")
		}
		v.actor(&tp, c.Team)
	}
	if c.ContextActivities != nil {
		ap := p.field("contextActivities")
		v.contextActivities(&ap, c.ContextActivities)
	}
	if !objectIsActivity {
		if c.Revision != "" {
			rp := p.field("revision")
			v.add(&rp, RuleContextActivityOnly, "revision is only allowed when the object is an activity")
		}
		if c.Platform != "" {
			pp := p.field("platform")
			v.add(&pp, RuleContextActivityOnly, "platform is only allowed when the object is an activity")
		}
	}
	if c.Language != "" && !IsLanguageTag(c.Language) {
		lp := p.field("language")
		v.add(&lp, RuleLanguageTag, "language "+quote(c.Language)+" is not an RFC 5646 language tag")
	}
	if c.Statement != nil {
		sp := p.field("statement")
		v.statementRef(&sp, c.Statement)
	}
	if c.Extensions != nil {
		ep := p.field("extensions")
		v.extensions(&ep, c.Extensions)
	}
	v.contextAgents(p, c.ContextAgents)
	v.contextGroups(p, c.ContextGroups)
}

func (v *validator) contextActivities(p *path, ca *ContextActivities) {
	if ca.Parent == nil && ca.Grouping == nil && ca.Category == nil && ca.Other == nil {
		v.add(p, RuleRequired, "contextActivities needs at least one of parent, grouping, category or other")
		return
	}
	v.activityList(p, "parent", ca.Parent)
	v.activityList(p, "grouping", ca.Grouping)
	v.activityList(p, "category", ca.Category)
	v.activityList(p, "other", ca.Other)
}

func (v *validator) activityList(p *path, name string, list []Activity) {
	if list == nil {
		return
	}
	lp := p.field(name)
	if len(list) == 0 {
		v.add(&lp, RuleRequired, name+" is empty")
		return
	}
	for i := range list {
		ip := lp.at(i)
		v.activity(&ip, &list[i])
	}
}

func (v *validator) contextAgents(p *path, list []ContextAgent) {
	if list == nil {
		return
	}
	lp := p.field("contextAgents")
	if v.version == V103 {
		v.add(&lp, RuleNotInVersion, "contextAgents is not defined in xAPI 1.0.3")
		return
	}
	for i := range list {
		ip := lp.at(i)
		ap := ip.field("agent")
		if isZeroActor(&list[i].Agent) {
			v.add(&ap, RuleRequired, "a contextAgent needs an agent")
		} else {
			v.agent(&ap, &list[i].Agent)
		}
		v.relevantTypes(&ip, list[i].RelevantTypes)
	}
}

func (v *validator) contextGroups(p *path, list []ContextGroup) {
	if list == nil {
		return
	}
	lp := p.field("contextGroups")
	if v.version == V103 {
		v.add(&lp, RuleNotInVersion, "contextGroups is not defined in xAPI 1.0.3")
		return
	}
	for i := range list {
		ip := lp.at(i)
		gp := ip.field("group")
		g := &list[i].Group
		switch {
		case isZeroActor(g):
			v.add(&gp, RuleRequired, "a contextGroup needs a group")
		case !g.IsGroup():
			tp := gp.field("objectType")
			v.add(&tp, RuleObjectType, "a contextGroup's group needs objectType \"Group\"")
		default:
			v.group(&gp, g)
		}
		v.relevantTypes(&ip, list[i].RelevantTypes)
	}
}

func (v *validator) relevantTypes(p *path, types []string) {
	if types == nil {
		return
	}
	tp := p.field("relevantTypes")
	if len(types) == 0 {
		v.add(&tp, RuleRelevantTypes, "relevantTypes, when present, cannot be empty")
		return
	}
	for i, t := range types {
		if !IsIRI(t) {
			ip := tp.at(i)
			v.add(&ip, RuleIRI, "relevant type "+quote(t)+" is not an absolute IRI")
		}
	}
}

// Attachments.

func (v *validator) attachments(p *path, list []Attachment) {
	if list == nil {
		return
	}
	lp := p.field("attachments")
	if len(list) == 0 {
		v.add(&lp, RuleRequired, "attachments is empty")
		return
	}
	for i := range list {
		ip := lp.at(i)
		v.attachment(&ip, &list[i])
	}
}

func (v *validator) attachment(p *path, a *Attachment) {
	up := p.field("usageType")
	switch {
	case a.UsageType == "":
		v.add(&up, RuleRequired, "an attachment needs a usageType")
	case !IsIRI(a.UsageType):
		v.add(&up, RuleIRI, "usageType "+quote(a.UsageType)+" is not an absolute IRI")
	}
	dp := p.field("display")
	if a.Display == nil {
		v.add(&dp, RuleRequired, "an attachment needs a display")
	} else {
		v.languageMap(&dp, a.Display)
	}
	if a.Description != nil {
		np := p.field("description")
		v.languageMap(&np, a.Description)
	}
	cp := p.field("contentType")
	switch {
	case a.ContentType == "":
		v.add(&cp, RuleRequired, "an attachment needs a contentType")
	case !isMediaType(a.ContentType):
		v.add(&cp, RuleAttachment, "contentType "+quote(a.ContentType)+" is not an Internet media type")
	}
	if a.Length < 0 {
		np := p.field("length")
		v.add(&np, RuleAttachment, "length "+strconv.FormatInt(a.Length, 10)+" is negative")
	}
	sp := p.field("sha2")
	switch {
	case a.SHA2 == "":
		v.add(&sp, RuleRequired, "an attachment needs a sha2")
	case !IsSHA2Hex(a.SHA2):
		v.add(&sp, RuleSHA2, "sha2 "+quote(a.SHA2)+" is not a hex SHA-2 hash")
	}
	if a.FileURL != "" && !IsIRL(a.FileURL) {
		fp := p.field("fileUrl")
		v.add(&fp, RuleIRL, "fileUrl "+quote(a.FileURL)+" is not an IRL")
	}
}

// isMediaType reports whether s has the form type/subtype of RFC 6838,
// optionally followed by parameters (not checked further).
func isMediaType(s string) bool {
	mt, _, _ := strings.Cut(s, ";")
	mt = strings.TrimRight(mt, " \t")
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && isToken(typ) && isToken(sub)
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c|0x20 && c|0x20 <= 'z':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
