package xapi

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// EncodeError reports a statement that cannot be encoded at all: a number
// that is not finite, an extension value that is not JSON, or an object of
// an unknown type. Encoding never checks the rules of Validate.
type EncodeError struct {
	// Path is the JSON path of the value.
	Path string
	// Reason says what is wrong.
	Reason string
}

// Error returns the message of e.
func (e *EncodeError) Error() string {
	return "xapi: cannot encode " + e.Path + ": " + e.Reason
}

// Marshal returns the canonical JSON encoding of st for version v. See the
// package documentation for the canonical form and for what encoding for
// V103 leaves out.
func Marshal(st *Statement, v Version) ([]byte, error) {
	return Append(make([]byte, 0, 512), st, v)
}

// Append appends the canonical JSON encoding of st for version v to dst and
// returns the extended buffer.
func Append(dst []byte, st *Statement, v Version) ([]byte, error) {
	e := encoders.Get().(*encoder)
	// First without keeping the JSON path, which only errors need; on an
	// error, encode again keeping it.
	e.b, e.v, e.err, e.lazy = dst, v, nil, true
	e.statement(st)
	if e.err != nil {
		e.b, e.err, e.lazy, e.path = dst, nil, false, e.pathBuf[:0]
		e.statement(st)
	}
	b, err := e.b, e.err
	e.b, e.err, e.path = nil, nil, nil
	encoders.Put(e)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// encoders recycles the encoders of Append, each otherwise a heap
// allocation per statement.
var encoders = sync.Pool{New: func() any { return new(encoder) }}

// ForVersion returns the canonical encoding data of a statement as it must
// be sent to an LRS of version v: data itself when nothing in it needs to
// change, otherwise the statement re-encoded for v. Only V103 can need a
// change (2.0-only properties and versions are left out); a quick scan
// decides without decoding when data cannot hold any.
func ForVersion(data []byte, v Version) ([]byte, error) {
	if v != V103 || !mayHaveV2Only(data) {
		return data, nil
	}
	st, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Marshal(st, V103)
}

// mayHaveV2Only reports whether canonical statement bytes may hold what
// encoding for V103 leaves out: contextAgents, contextGroups or a version
// property (which Marshal keeps for V103 only when it is 1.0.x). Producers
// leave version out, so statements that have one are rare enough to be
// decoded to find out.
func mayHaveV2Only(b []byte) bool {
	return bytes.Contains(b, []byte(`"contextAgents"`)) ||
		bytes.Contains(b, []byte(`"contextGroups"`)) ||
		bytes.Contains(b, []byte(`"version":`))
}

// MarshalJSON returns the canonical encoding for V200, which keeps every
// property.
func (st *Statement) MarshalJSON() ([]byte, error) {
	return Marshal(st, V200)
}

type encoder struct {
	b       []byte
	v       Version
	err     error
	path    []pathSeg
	pathBuf [8]pathSeg
	lazy    bool // path not kept: fail only notes that something failed
}

// errNeedPath is the error of a lazy encoding, which keeps no path.
var errNeedPath = errors.New("encoding failed")

func (e *encoder) fail(key, reason string) {
	if e.lazy {
		e.err = errNeedPath
		return
	}
	if e.err == nil {
		p := renderPath(append(slices.Clone(e.path), pathSeg{key: key}))
		e.err = &EncodeError{Path: p, Reason: reason}
	}
}

// obj tracks whether a comma is needed before the next member.
type obj struct {
	e     *encoder
	first bool
}

func (e *encoder) open() obj {
	e.b = append(e.b, '{')
	return obj{e: e, first: true}
}

func (o *obj) key(k string) {
	o.e.b = appendKey(o.e.b, k, o.first)
	o.first = false
}

// appendKey appends k as an object key, after a comma unless first. The
// encoder's buffer is stored back once per key, not once per byte run.
func appendKey(b []byte, k string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func (o *obj) close() { o.e.b = append(o.e.b, '}') }

func (o *obj) str(k, v string) {
	if v != "" {
		o.e.b = appendString(appendKey(o.e.b, k, o.first), v)
		o.first = false
	}
}

func (o *obj) time(k string, t time.Time) {
	if !t.IsZero() {
		o.key(k)
		o.e.b = append(o.e.b, '"')
		o.e.b = appendTimestamp(o.e.b, t)
		o.e.b = append(o.e.b, '"')
	}
}

func (e *encoder) statement(st *Statement) {
	o := e.open()
	o.str("id", st.ID)
	o.key("actor")
	e.in("actor", func() { e.actor(&st.Actor) })
	o.key("verb")
	e.verb(&st.Verb)
	if st.Object != nil {
		o.key("object")
		e.in("object", func() { e.object(st.Object) })
	}
	if st.Result != nil {
		o.key("result")
		e.in("result", func() { e.result(st.Result) })
	}
	if st.Context != nil {
		o.key("context")
		e.in("context", func() { e.context(st.Context) })
	}
	o.time("timestamp", st.Timestamp)
	o.time("stored", st.Stored)
	if st.Authority != nil {
		o.key("authority")
		e.actor(st.Authority)
	}
	if st.Version != "" && (e.v != V103 || st.Version == "1.0" || strings.HasPrefix(st.Version, "1.0.")) {
		o.str("version", st.Version)
	}
	if st.Attachments != nil {
		o.key("attachments")
		e.attachments(st.Attachments)
	}
	o.close()
}

func (e *encoder) in(key string, f func()) {
	if e.lazy {
		f()
		return
	}
	e.path = append(e.path, pathSeg{key: key})
	f()
	e.path = e.path[:len(e.path)-1]
}

func (e *encoder) actor(a *Actor) {
	o := e.open()
	o.key("objectType")
	if a.IsGroup() {
		e.b = append(e.b, `"Group"`...)
	} else {
		e.b = append(e.b, `"Agent"`...)
	}
	o.str("name", a.Name)
	o.str("mbox", a.Mbox)
	o.str("mbox_sha1sum", a.MboxSHA1Sum)
	o.str("openid", a.OpenID)
	if a.Account != nil {
		o.key("account")
		ao := e.open()
		ao.key("homePage")
		e.b = appendString(e.b, a.Account.HomePage)
		ao.key("name")
		e.b = appendString(e.b, a.Account.Name)
		ao.close()
	}
	if a.Member != nil {
		o.key("member")
		e.b = append(e.b, '[')
		for i := range a.Member {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.actor(&a.Member[i])
		}
		e.b = append(e.b, ']')
	}
	o.close()
}

func (e *encoder) verb(v *Verb) {
	o := e.open()
	o.key("id")
	e.b = appendString(e.b, v.ID)
	if v.Display != nil {
		o.key("display")
		e.b = appendLanguageMap(e.b, v.Display)
	}
	o.close()
}

func (e *encoder) object(obj Object) {
	switch x := obj.(type) {
	case *Activity:
		e.activity(x)
	case *Actor:
		e.actor(x)
	case *StatementRef:
		e.statementRef(x)
	case *SubStatement:
		e.subStatement(x)
	default:
		e.b = append(e.b, "null"...)
		e.fail("objectType", "unknown object type")
	}
}

func (e *encoder) statementRef(r *StatementRef) {
	e.b = append(e.b, `{"objectType":"StatementRef","id":`...)
	e.b = appendString(e.b, r.ID)
	e.b = append(e.b, '}')
}

func (e *encoder) subStatement(s *SubStatement) {
	o := e.open()
	o.key("objectType")
	e.b = append(e.b, `"SubStatement"`...)
	o.key("actor")
	e.actor(&s.Actor)
	o.key("verb")
	e.verb(&s.Verb)
	if s.Object != nil {
		o.key("object")
		if _, nested := s.Object.(*SubStatement); nested {
			e.b = append(e.b, "null"...)
			e.fail("object", "a SubStatement cannot contain a SubStatement")
		} else {
			e.in("object", func() { e.object(s.Object) })
		}
	}
	if s.Result != nil {
		o.key("result")
		e.in("result", func() { e.result(s.Result) })
	}
	if s.Context != nil {
		o.key("context")
		e.in("context", func() { e.context(s.Context) })
	}
	o.time("timestamp", s.Timestamp)
	if s.Attachments != nil {
		o.key("attachments")
		e.attachments(s.Attachments)
	}
	o.close()
}

func (e *encoder) activity(a *Activity) {
	o := e.open()
	o.key("objectType")
	e.b = append(e.b, `"Activity"`...)
	o.key("id")
	e.b = appendString(e.b, a.ID)
	if d := a.Definition; d != nil {
		o.key("definition")
		do := e.open()
		if d.Name != nil {
			do.key("name")
			e.b = appendLanguageMap(e.b, d.Name)
		}
		if d.Description != nil {
			do.key("description")
			e.b = appendLanguageMap(e.b, d.Description)
		}
		do.str("type", d.Type)
		do.str("moreInfo", d.MoreInfo)
		do.str("interactionType", d.InteractionType)
		if d.CorrectResponsesPattern != nil {
			do.key("correctResponsesPattern")
			e.b = append(e.b, '[')
			for i, p := range d.CorrectResponsesPattern {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				e.b = appendString(e.b, p)
			}
			e.b = append(e.b, ']')
		}
		e.components(&do, "choices", d.Choices)
		e.components(&do, "scale", d.Scale)
		e.components(&do, "source", d.Source)
		e.components(&do, "target", d.Target)
		e.components(&do, "steps", d.Steps)
		if d.Extensions != nil {
			do.key("extensions")
			e.in("definition", func() { e.extensions(d.Extensions) })
		}
		do.close()
	}
	o.close()
}

func (e *encoder) components(o *obj, key string, list []InteractionComponent) {
	if list == nil {
		return
	}
	o.key(key)
	e.b = append(e.b, '[')
	for i := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		co := e.open()
		co.key("id")
		e.b = appendString(e.b, list[i].ID)
		if list[i].Description != nil {
			co.key("description")
			e.b = appendLanguageMap(e.b, list[i].Description)
		}
		co.close()
	}
	e.b = append(e.b, ']')
}

func (e *encoder) result(r *Result) {
	o := e.open()
	if sc := r.Score; sc != nil {
		o.key("score")
		so := e.open()
		e.in("score", func() {
			e.num(&so, "scaled", sc.Scaled)
			e.num(&so, "raw", sc.Raw)
			e.num(&so, "min", sc.Min)
			e.num(&so, "max", sc.Max)
		})
		so.close()
	}
	if r.Success != nil {
		o.key("success")
		e.b = strconv.AppendBool(e.b, *r.Success)
	}
	if r.Completion != nil {
		o.key("completion")
		e.b = strconv.AppendBool(e.b, *r.Completion)
	}
	if r.Response != nil {
		o.key("response")
		e.b = appendString(e.b, *r.Response)
	}
	if r.Duration != nil {
		o.key("duration")
		e.b = append(e.b, '"')
		e.b = append(e.b, r.Duration.String()...)
		e.b = append(e.b, '"')
	}
	if r.Extensions != nil {
		o.key("extensions")
		e.extensions(r.Extensions)
	}
	o.close()
}

func (e *encoder) num(o *obj, key string, f *float64) {
	if f == nil {
		return
	}
	o.key(key)
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		e.b = append(e.b, '0')
		e.fail(key, "number is not finite")
		return
	}
	e.b = appendFloat(e.b, *f)
}

func (e *encoder) context(c *Context) {
	o := e.open()
	o.str("registration", c.Registration)
	if c.Instructor != nil {
		o.key("instructor")
		e.actor(c.Instructor)
	}
	if c.Team != nil {
		o.key("team")
		e.actor(c.Team)
	}
	if ca := c.ContextActivities; ca != nil {
		o.key("contextActivities")
		co := e.open()
		e.activityList(&co, "parent", ca.Parent)
		e.activityList(&co, "grouping", ca.Grouping)
		e.activityList(&co, "category", ca.Category)
		e.activityList(&co, "other", ca.Other)
		co.close()
	}
	if e.v != V103 {
		if c.ContextAgents != nil {
			o.key("contextAgents")
			e.b = append(e.b, '[')
			for i := range c.ContextAgents {
				e.contextActor(i, `"contextAgent"`, "agent", &c.ContextAgents[i].Agent, c.ContextAgents[i].RelevantTypes)
			}
			e.b = append(e.b, ']')
		}
		if c.ContextGroups != nil {
			o.key("contextGroups")
			e.b = append(e.b, '[')
			for i := range c.ContextGroups {
				e.contextActor(i, `"contextGroup"`, "group", &c.ContextGroups[i].Group, c.ContextGroups[i].RelevantTypes)
			}
			e.b = append(e.b, ']')
		}
	}
	o.str("revision", c.Revision)
	o.str("platform", c.Platform)
	o.str("language", c.Language)
	if c.Statement != nil {
		o.key("statement")
		e.statementRef(c.Statement)
	}
	if c.Extensions != nil {
		o.key("extensions")
		e.extensions(c.Extensions)
	}
	o.close()
}

// contextActor writes element i of contextAgents or contextGroups:
// objectType (already quoted), the agent or group under key, and
// relevantTypes.
func (e *encoder) contextActor(i int, objectType, key string, a *Actor, types []string) {
	if i > 0 {
		e.b = append(e.b, ',')
	}
	o := e.open()
	o.key("objectType")
	e.b = append(e.b, objectType...)
	o.key(key)
	e.actor(a)
	e.relevantTypes(&o, types)
	o.close()
}

func (e *encoder) relevantTypes(o *obj, list []string) {
	if list == nil {
		return
	}
	o.key("relevantTypes")
	e.b = append(e.b, '[')
	for i, t := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, t)
	}
	e.b = append(e.b, ']')
}

func (e *encoder) activityList(o *obj, key string, list []Activity) {
	if list == nil {
		return
	}
	o.key(key)
	e.b = append(e.b, '[')
	e.in("contextActivities", func() {
		for i := range list {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.activity(&list[i])
		}
	})
	e.b = append(e.b, ']')
}

func (e *encoder) attachments(list []Attachment) {
	e.b = append(e.b, '[')
	for i := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		a := &list[i]
		o := e.open()
		o.key("usageType")
		e.b = appendString(e.b, a.UsageType)
		o.key("display")
		e.b = appendLanguageMap(e.b, a.Display)
		if a.Description != nil {
			o.key("description")
			e.b = appendLanguageMap(e.b, a.Description)
		}
		o.key("contentType")
		e.b = appendString(e.b, a.ContentType)
		o.key("length")
		e.b = strconv.AppendInt(e.b, a.Length, 10)
		o.key("sha2")
		e.b = appendString(e.b, a.SHA2)
		o.str("fileUrl", a.FileURL)
		o.close()
	}
	e.b = append(e.b, ']')
}

func (e *encoder) extensions(x Extensions) {
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, k)
		e.b = append(e.b, ':')
		raw := x[k]
		if len(raw) == 0 {
			e.b = append(e.b, "null"...)
			continue
		}
		out, err := appendCanonicalJSON(e.b, raw)
		if err != nil {
			e.fail("extensions", "value of "+quote(k)+" is not JSON: "+err.Error())
			e.b = append(e.b, "null"...)
			continue
		}
		e.b = out
	}
	e.b = append(e.b, '}')
}

func appendLanguageMap(b []byte, m LanguageMap) []byte {
	if len(m) == 1 {
		for k, v := range m {
			b = append(b, '{')
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v)
			return append(b, '}')
		}
	}
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

func appendTimestamp(b []byte, t time.Time) []byte {
	return t.UTC().Truncate(time.Millisecond).AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}

// appendFloat writes f in its shortest round-trip form, as ECMAScript does:
// plain notation from 1e-6 up to 1e21, exponent notation outside, and -0
// written as 0.
func appendFloat(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: only '"', '\\' and control
// characters are escaped (\n, \r, \t, \b, \f by name, others as \u00XX);
// invalid UTF-8 becomes U+FFFD. Everything else is written as UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var errNotJSON = errors.New("malformed JSON")

var errTooDeep = errors.New("nesting too deep: more than " + strconv.Itoa(maxDepth) + " levels of objects and arrays")

// appendCanonicalJSON appends the canonical form of the JSON value raw:
// object keys sorted (stably, so duplicate keys keep their order), no
// insignificant space, strings re-escaped by appendString, number literals
// as written.
func appendCanonicalJSON(b []byte, raw []byte) (out []byte, err error) {
	s := scanner{data: raw}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(syntaxAbort); !ok {
				panic(r)
			}
			out, err = b, errNotJSON
			if s.depth > maxDepth {
				err = errTooDeep
			}
		}
	}()
	b = s.canonicalValue(b)
	if !s.atEnd() {
		return b, errNotJSON
	}
	return b, nil
}

type kv struct {
	key string
	val []byte
}

func (s *scanner) canonicalValue(b []byte) []byte {
	s.enter()
	defer s.leave()
	switch s.peek() {
	case '{':
		s.pos++
		var members []kv
		if s.peek() != '}' {
			for {
				if s.peek() != '"' {
					s.syntax("want object key")
				}
				k := s.rawString()
				s.expect(':')
				members = append(members, kv{key: k, val: s.canonicalValue(nil)})
				if s.peek() == ',' {
					s.pos++
					continue
				}
				break
			}
		}
		s.expect('}')
		slices.SortStableFunc(members, func(x, y kv) int { return strings.Compare(x.key, y.key) })
		b = append(b, '{')
		for i, m := range members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			b = append(b, m.val...)
		}
		return append(b, '}')
	case '[':
		s.pos++
		b = append(b, '[')
		if s.peek() != ']' {
			for i := 0; ; i++ {
				if i > 0 {
					b = append(b, ',')
				}
				b = s.canonicalValue(b)
				if s.peek() == ',' {
					s.pos++
					continue
				}
				break
			}
		}
		s.expect(']')
		return append(b, ']')
	case '"':
		return appendString(b, s.rawString())
	case 't', 'f', 'n':
		start := s.pos
		s.skipValue()
		return append(b, s.data[start:s.pos]...)
	case 0:
		s.syntax("unexpected end of input")
		return b
	default:
		return append(b, s.numberLiteral()...)
	}
}
