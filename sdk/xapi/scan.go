package xapi

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a strict JSON reader over a byte slice. It keeps the JSON path
// of the value being read as a stack of segments and only builds the path
// string when a problem is recorded. Syntax errors are fatal: they panic
// with syntaxAbort, which Parse recovers.
type scanner struct {
	data []byte
	// text, when set, is data as a string: the strings and numbers read
	// are cut from it instead of copied one by one, so decoding a
	// statement copies its input once. Parse sets it; scanners whose
	// strings do not outlive the call leave it empty.
	text    string
	pos     int
	path    []pathSeg
	probs   Problems
	buf     []byte // scratch for unescaping strings
	pathBuf [12]pathSeg
	depth   int // nesting of skipped or canonicalized values
	// lazy leaves the path untracked; the first problem then panics with
	// needPath, for the caller to read again with lazy off.
	lazy bool
}

// needPath aborts a lazy scan at its first problem.
type needPath struct{}

// MaxDepth is how deeply objects and arrays may nest in a statement,
// counted from the statement itself. Deeper values are refused with
// RuleDepth, so that hostile input cannot exhaust the stack.
const MaxDepth = 512

const maxDepth = MaxDepth

// pathSeg is one step of a JSON path: an object key or an array index.
type pathSeg struct {
	key     string
	index   int
	isIndex bool
	bracket bool // key written as ["key"] (map keys, extension IRIs)
}

type syntaxAbort struct{}

func (s *scanner) push(key string) {
	if !s.lazy {
		s.path = append(s.path, pathSeg{key: key})
	}
}

func (s *scanner) pushMapKey(key string) {
	if !s.lazy {
		s.path = append(s.path, pathSeg{key: key, bracket: true})
	}
}

func (s *scanner) pushIndex(i int) {
	if !s.lazy {
		s.path = append(s.path, pathSeg{index: i, isIndex: true})
	}
}

func (s *scanner) pop() {
	if !s.lazy {
		s.path = s.path[:len(s.path)-1]
	}
}

// pathString renders the current path.
func (s *scanner) pathString() string {
	return renderPath(s.path)
}

func renderPath(segs []pathSeg) string {
	var b strings.Builder
	for i, seg := range segs {
		switch {
		case seg.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(seg.index))
			b.WriteByte(']')
		case seg.bracket:
			b.WriteString("[")
			b.WriteString(strconv.Quote(seg.key))
			b.WriteString("]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg.key)
		}
	}
	return b.String()
}

func (s *scanner) problem(rule Rule, msg string) {
	if s.lazy {
		panic(needPath{})
	}
	s.probs = append(s.probs, Problem{Path: s.pathString(), Rule: rule, Message: msg})
}

func (s *scanner) syntax(msg string) {
	s.problem(RuleJSONSyntax, msg+" at offset "+strconv.Itoa(s.pos))
	panic(syntaxAbort{})
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the
// end of input.
func (s *scanner) peek() byte {
	s.skipWS()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// atEnd reports whether only space is left. (peek returns 0 at the end,
// but also at a NUL byte, which is data.)
func (s *scanner) atEnd() bool {
	s.skipWS()
	return s.pos >= len(s.data)
}

func (s *scanner) expect(c byte) {
	if s.peek() != c {
		if s.pos >= len(s.data) {
			s.syntax("unexpected end of input, want " + strconv.QuoteRune(rune(c)))
		}
		s.syntax("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])) + ", want " + strconv.QuoteRune(rune(c)))
	}
	s.pos++
}

// kindName names the JSON type of the value starting with c, for messages.
func kindName(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// want checks that the next value starts with c (one of '{', '[', '"', 't'
// for booleans, '0' for numbers). It records a problem, skips the value and
// returns false when it does not, reporting null with RuleNull.
func (s *scanner) want(c byte, what string) bool {
	got := s.peek()
	ok := got == c
	switch c {
	case 't':
		ok = got == 't' || got == 'f'
	case '0':
		ok = got == '-' || (got >= '0' && got <= '9')
	}
	if ok {
		return true
	}
	if got == 0 {
		s.syntax("unexpected end of input")
	}
	if got == 'n' {
		s.problem(RuleNull, "null is not allowed here, want "+what)
	} else {
		s.problem(RuleJSONType, "got "+kindName(got)+", want "+what)
	}
	s.skipValue()
	return false
}

// object reads an object, calling field for each key with the path already
// extended by the key; field must consume the value. Every duplicate key is
// reported and its value skipped.
func (s *scanner) object(field func(key string)) { s.members(false, field) }

// mapObject reads an object whose keys are data (language tags, IRIs): the
// path segments use brackets, and duplicates are reported.
func (s *scanner) mapObject(field func(key string)) { s.members(true, field) }

// members is object and mapObject: dataKeys chooses the bracketed path
// segments of map keys.
func (s *scanner) members(dataKeys bool, field func(key string)) {
	s.enter()
	defer s.leave()
	s.expect('{')
	if s.peek() == '}' {
		s.pos++
		return
	}
	var seen keySet
	for {
		if s.peek() != '"' {
			s.syntax("want object key")
		}
		key := s.rawKey()
		s.expect(':')
		if dataKeys {
			s.pushMapKey(key)
		} else {
			s.push(key)
		}
		if seen.add(key) {
			field(key)
		} else {
			s.problem(RuleDuplicateKey, "key "+quote(key)+" appears more than once")
			s.skipValue()
		}
		s.pop()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return
		default:
			s.syntax("want ',' or '}' in object")
		}
	}
}

// keySet holds the keys of one object: the first few in an array, which
// needs no allocation, the rest in a map, so that objects with many keys
// stay linear.
type keySet struct {
	arr  [16]string
	n    int
	more map[string]struct{}
}

// add records key and reports whether it was new.
func (ks *keySet) add(key string) bool {
	for _, k := range ks.arr[:ks.n] {
		if k == key {
			return false
		}
	}
	if ks.n < len(ks.arr) {
		ks.arr[ks.n] = key
		ks.n++
		return true
	}
	if _, dup := ks.more[key]; dup {
		return false
	}
	if ks.more == nil {
		ks.more = make(map[string]struct{}, len(ks.arr))
	}
	ks.more[key] = struct{}{}
	return true
}

// array reads an array, calling elem for each index with the path extended.
func (s *scanner) array(elem func(i int)) {
	s.enter()
	defer s.leave()
	s.expect('[')
	if s.peek() == ']' {
		s.pos++
		return
	}
	for i := 0; ; i++ {
		s.pushIndex(i)
		elem(i)
		s.pop()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return
		default:
			s.syntax("want ',' or ']' in array")
		}
	}
}

// unknownKey records an unknown key, suggesting the right spelling when
// only the case differs, and skips its value.
func (s *scanner) unknownKey(key string, known ...string) {
	msg := "unknown key " + quote(key)
	for _, k := range known {
		if strings.EqualFold(k, key) {
			msg += " (keys are case-sensitive: did you mean " + quote(k) + "?)"
			break
		}
	}
	s.problem(RuleUnknownKey, msg)
	s.skipValue()
}

// str reads a string value; wrong types are recorded and "" returned.
func (s *scanner) str() (string, bool) {
	if !s.want('"', "a string") {
		return "", false
	}
	return s.rawString(), true
}

// boolean reads a boolean value.
func (s *scanner) boolean() (bool, bool) {
	if !s.want('t', "a boolean") {
		return false, false
	}
	if s.hasPrefix("true") {
		s.pos += 4
		return true, true
	}
	if s.hasPrefix("false") {
		s.pos += 5
		return false, true
	}
	s.syntax("invalid literal")
	return false, false
}

func (s *scanner) hasPrefix(lit string) bool {
	return len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit
}

// number reads a number value as float64.
func (s *scanner) number() (float64, bool) {
	if !s.want('0', "a number") {
		return 0, false
	}
	lit := s.numberLiteral()
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		s.problem(RuleJSONType, "number "+lit+" is out of range")
		return 0, false
	}
	return f, true
}

// numberLiteral consumes a JSON number and returns its text.
func (s *scanner) numberLiteral() string {
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		s.syntax("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			s.syntax("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			s.syntax("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return s.cut(start, i)
}

// cut returns data[start:end] as a string: a substring of text when it is
// set, else a copy.
func (s *scanner) cut(start, end int) string {
	if s.text != "" {
		return s.text[start:end]
	}
	return string(s.data[start:end])
}

// rawKey reads an object key like rawString, but without allocating for
// the keys xAPI defines (or any key, when the scanner has text).
func (s *scanner) rawKey() string {
	if s.text != "" {
		return s.rawString() // a substring of text: no allocation either
	}
	d := s.data
	start := s.pos + 1
	for i := start; i < len(d) && i-start <= 24; i++ {
		c := d[i]
		if c == '"' {
			if k, ok := internKey(d[start:i]); ok {
				s.pos = i + 1
				return k
			}
			break
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	return s.rawString()
}

// internKey returns the constant string equal to b when b is a key or
// objectType value of the xAPI model.
func internKey(b []byte) (string, bool) {
	switch string(b) {
	case "id":
		return "id", true
	case "actor":
		return "actor", true
	case "verb":
		return "verb", true
	case "object":
		return "object", true
	case "result":
		return "result", true
	case "context":
		return "context", true
	case "timestamp":
		return "timestamp", true
	case "stored":
		return "stored", true
	case "authority":
		return "authority", true
	case "version":
		return "version", true
	case "attachments":
		return "attachments", true
	case "objectType":
		return "objectType", true
	case "name":
		return "name", true
	case "mbox":
		return "mbox", true
	case "mbox_sha1sum":
		return "mbox_sha1sum", true
	case "openid":
		return "openid", true
	case "account":
		return "account", true
	case "homePage":
		return "homePage", true
	case "member":
		return "member", true
	case "display":
		return "display", true
	case "definition":
		return "definition", true
	case "description":
		return "description", true
	case "type":
		return "type", true
	case "moreInfo":
		return "moreInfo", true
	case "interactionType":
		return "interactionType", true
	case "correctResponsesPattern":
		return "correctResponsesPattern", true
	case "choices":
		return "choices", true
	case "scale":
		return "scale", true
	case "source":
		return "source", true
	case "target":
		return "target", true
	case "steps":
		return "steps", true
	case "extensions":
		return "extensions", true
	case "score":
		return "score", true
	case "scaled":
		return "scaled", true
	case "raw":
		return "raw", true
	case "min":
		return "min", true
	case "max":
		return "max", true
	case "success":
		return "success", true
	case "completion":
		return "completion", true
	case "response":
		return "response", true
	case "duration":
		return "duration", true
	case "registration":
		return "registration", true
	case "instructor":
		return "instructor", true
	case "team":
		return "team", true
	case "contextActivities":
		return "contextActivities", true
	case "contextAgents":
		return "contextAgents", true
	case "contextGroups":
		return "contextGroups", true
	case "revision":
		return "revision", true
	case "platform":
		return "platform", true
	case "language":
		return "language", true
	case "statement":
		return "statement", true
	case "parent":
		return "parent", true
	case "grouping":
		return "grouping", true
	case "category":
		return "category", true
	case "other":
		return "other", true
	case "agent":
		return "agent", true
	case "group":
		return "group", true
	case "relevantTypes":
		return "relevantTypes", true
	case "usageType":
		return "usageType", true
	case "contentType":
		return "contentType", true
	case "length":
		return "length", true
	case "sha2":
		return "sha2", true
	case "fileUrl":
		return "fileUrl", true
	case ObjectTypeAgent:
		return ObjectTypeAgent, true
	case ObjectTypeGroup:
		return ObjectTypeGroup, true
	case ObjectTypeActivity:
		return ObjectTypeActivity, true
	case ObjectTypeStatementRef:
		return ObjectTypeStatementRef, true
	case ObjectTypeSubStatement:
		return ObjectTypeSubStatement, true
	case ObjectTypeContextAgent:
		return ObjectTypeContextAgent, true
	case ObjectTypeContextGroup:
		return ObjectTypeContextGroup, true
	}
	return "", false
}

// rawString consumes a string token (the scanner is at its opening quote)
// and returns its unescaped value. Invalid UTF-8 and unescaped control
// characters are syntax errors.
func (s *scanner) rawString() string {
	s.pos++ // opening quote
	start := s.pos
	d := s.data
	// Fast path: no escapes, ASCII or valid UTF-8.
	for i := start; i < len(d); i++ {
		for i < len(d) && plainASCII[d[i]] {
			i++
		}
		if i == len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.cut(start, i)
		case c == '\\':
			return s.slowString(start, i)
		case c < 0x20:
			s.pos = i
			s.syntax("control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				s.pos = i
				s.syntax("invalid UTF-8 in string")
			}
			i += size - 1
		}
	}
	s.pos = len(d)
	s.syntax("unterminated string")
	return ""
}

func (s *scanner) slowString(start, i int) string {
	d := s.data
	b := append(s.buf[:0], d[start:i]...)
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			s.buf = b
			return string(b)
		case c == '\\':
			if i+1 >= len(d) {
				s.pos = i
				s.syntax("unterminated escape")
			}
			switch d[i+1] {
			case '"', '\\', '/':
				b = append(b, d[i+1])
				i += 2
			case 'b':
				b = append(b, '\b')
				i += 2
			case 'f':
				b = append(b, '\f')
				i += 2
			case 'n':
				b = append(b, '\n')
				i += 2
			case 'r':
				b = append(b, '\r')
				i += 2
			case 't':
				b = append(b, '\t')
				i += 2
			case 'u':
				r, ok := hex4(d, i+2)
				if !ok {
					s.pos = i
					s.syntax("invalid \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(0), false
					if i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
						r2, ok2 = hex4(d, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				s.pos = i
				s.syntax("invalid escape")
			}
		case c < 0x20:
			s.pos = i
			s.syntax("control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				s.pos = i
				s.syntax("invalid UTF-8 in string")
			}
			b = append(b, d[i:i+size]...)
			i += size
		default:
			b = append(b, c)
			i++
		}
	}
	s.pos = len(d)
	s.syntax("unterminated string")
	return ""
}

// plainASCII tells the bytes that stand for themselves inside a JSON
// string: printable ASCII other than the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// enter and leave bound the nesting depth.
func (s *scanner) enter() {
	s.depth++
	if s.depth > maxDepth {
		s.syntax("nesting too deep: more than " + strconv.Itoa(maxDepth) + " levels of objects and arrays")
	}
}

func (s *scanner) leave() { s.depth-- }

// skipValue consumes any JSON value, checking its syntax. It keeps the
// containers it is in on a stack of its own instead of recursing, so any
// nesting is safe to skip; a value that opens more than maxDepth levels
// (counting those around it) is reported once, with RuleDepth at the path
// of the value being skipped, and skipped whole.
func (s *scanner) skipValue() {
	var arr [32]byte
	open := arr[:0] // '{' or '[' of the containers entered
	deep := false
	for {
		switch c := s.peek(); c {
		case '{', '[':
			s.pos++
			if !deep && s.depth+len(open)+1 > maxDepth {
				deep = true
				s.problem(RuleDepth, "nesting too deep: more than "+strconv.Itoa(maxDepth)+" levels of objects and arrays")
			}
			if end := closer(c); s.peek() == end {
				s.pos++
				break
			}
			open = append(open, c)
			if c == '{' {
				s.skipKey()
			}
			continue
		case '"':
			s.skipString()
		case 't':
			s.literal("true")
		case 'f':
			s.literal("false")
		case 'n':
			s.literal("null")
		case 0:
			s.syntax("unexpected end of input")
		default:
			s.numberLiteral()
		}
		// After a value: close the containers it ends, then go on to the
		// next value of the innermost one still open.
		for {
			if len(open) == 0 {
				return
			}
			top := open[len(open)-1]
			c := s.peek()
			if c == ',' {
				s.pos++
				if top == '{' {
					s.skipKey()
				}
				break
			}
			if c != closer(top) {
				if top == '{' {
					s.syntax("want ',' or '}' in object")
				}
				s.syntax("want ',' or ']' in array")
			}
			s.pos++
			open = open[:len(open)-1]
		}
	}
}

// closer returns the byte that closes the container c opens.
func closer(c byte) byte {
	if c == '{' {
		return '}'
	}
	return ']'
}

// skipKey consumes an object key and its colon.
func (s *scanner) skipKey() {
	if s.peek() != '"' {
		s.syntax("want object key")
	}
	s.skipString()
	s.expect(':')
}

// literal consumes lit (true, false or null).
func (s *scanner) literal(lit string) {
	if !s.hasPrefix(lit) {
		s.syntax("invalid literal")
	}
	s.pos += len(lit)
}

// skipString consumes a string token, validating it.
func (s *scanner) skipString() {
	d := s.data
	for i := s.pos + 1; i < len(d); i++ {
		for i < len(d) && plainASCII[d[i]] {
			i++
		}
		if i == len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			s.rawString() // slow, validating path
			return
		}
	}
	s.pos = len(d)
	s.syntax("unterminated string")
}

// rawValue consumes any value and returns its bytes.
func (s *scanner) rawValue() []byte {
	s.skipWS()
	start := s.pos
	s.skipValue()
	return s.data[start:s.pos]
}
