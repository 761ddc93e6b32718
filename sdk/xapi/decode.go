package xapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// Parse decodes one statement strictly. Unknown keys, keys in the wrong
// case, duplicate keys, null outside extensions, values of the wrong JSON
// type, timestamps and durations that cannot be read, and objectType values
// that do not fit their place are all reported, each with its JSON path. The
// returned error is of type Problems when the input is not a well-formed
// statement; the statement is still returned with everything that could be
// read, so that callers can report more (Check does).
//
// Parse does not apply the rules of Validate; a nil error means the input is
// well-formed, not that it is valid.
func Parse(data []byte) (*Statement, error) {
	st, probs := parse(data)
	return st, probs.Err()
}

// scanners recycles the scanners of parse: one is large, and each would
// otherwise be a heap allocation per statement.
var scanners = sync.Pool{New: func() any { return new(scanner) }}

func parse(data []byte) (st *Statement, probs Problems) {
	s := scanners.Get().(*scanner)
	defer func() {
		// Let go of what the caller now owns or may free; the path array
		// and scratch buffer are reused (their old contents are
		// overwritten before being read).
		s.data, s.text, s.probs, s.path = nil, "", nil, nil
		s.pos, s.depth = 0, 0
		scanners.Put(s)
	}()
	s.data, s.text = data, string(data)
	// First without keeping the JSON path, which only problems need: a
	// well-formed statement, the common case, is read once. At the first
	// problem, read again keeping it.
	if st, ok := s.decode(true); ok {
		return st, nil
	}
	s.pos, s.depth = 0, 0
	st, _ = s.decode(false)
	return st, s.probs
}

// decode reads one statement from s.data. With lazy, the path is not kept
// and decode gives up (ok false) at the first problem.
func (s *scanner) decode(lazy bool) (st *Statement, ok bool) {
	s.lazy = lazy
	s.path = s.pathBuf[:0]
	st = new(Statement)
	defer func() {
		if r := recover(); r != nil {
			switch r.(type) {
			case syntaxAbort:
			case needPath:
				ok = false
			default:
				panic(r)
			}
		}
	}()
	if s.peek() != '{' {
		if s.atEnd() {
			s.syntax("empty input")
		}
		s.problem(RuleJSONType, "a statement is a JSON object, got "+kindName(s.peek()))
		s.skipValue()
	} else {
		s.statement(st)
	}
	if !s.atEnd() {
		s.syntax("data after the statement")
	}
	return st, true
}

// Check decodes and validates one statement for version v. It returns the
// decoded statement (partial when the input is malformed) and every problem
// found; an empty Problems means the statement is valid.
func Check(data []byte, v Version) (*Statement, Problems) {
	st, probs := parse(data)
	if len(probs) == 0 {
		return st, Validate(st, v)
	}
	if hasSyntaxProblem(probs) {
		return st, probs
	}
	// The decoder and Validate both know some rules (a nested
	// SubStatement, for example); report each place and rule once.
	seen := make(map[placeRule]bool, len(probs))
	for _, p := range probs {
		seen[placeRule{p.Path, p.Rule}] = true
	}
	for _, p := range Validate(st, v) {
		if !seen[placeRule{p.Path, p.Rule}] {
			probs = append(probs, p)
		}
	}
	return st, probs
}

type placeRule struct {
	path string
	rule Rule
}

func hasSyntaxProblem(ps Problems) bool {
	for _, p := range ps {
		if p.Rule == RuleJSONSyntax {
			return true
		}
	}
	return false
}

// UnmarshalJSON decodes a statement strictly, as Parse does.
func (st *Statement) UnmarshalJSON(data []byte) error {
	got, err := Parse(data)
	if err != nil {
		return err
	}
	*st = *got
	return nil
}

var statementKeys = []string{"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments"}

// core points at the properties statements and sub-statements share.
type core struct {
	actor       *Actor
	verb        *Verb
	object      *Object
	result      **Result
	context     **Context
	timestamp   *time.Time
	attachments *[]Attachment
}

// coreField reads key into c if it is one of the shared properties, and
// reports whether it was.
func (s *scanner) coreField(key string, c core, inSub bool) bool {
	switch key {
	case "actor":
		s.actor(c.actor, true)
	case "verb":
		s.verb(c.verb)
	case "object":
		*c.object = s.statementObject(inSub)
	case "result":
		if s.want('{', "an object") {
			*c.result = new(Result)
			s.result(*c.result)
		}
	case "context":
		if s.want('{', "an object") {
			*c.context = new(Context)
			s.context(*c.context)
		}
	case "timestamp":
		*c.timestamp = s.timestamp()
	case "attachments":
		*c.attachments = s.attachments()
	default:
		return false
	}
	return true
}

func (s *scanner) statement(st *Statement) {
	c := core{&st.Actor, &st.Verb, &st.Object, &st.Result, &st.Context, &st.Timestamp, &st.Attachments}
	s.object(func(key string) {
		if s.coreField(key, c, false) {
			return
		}
		switch key {
		case "id":
			st.ID, _ = s.str()
		case "stored":
			st.Stored = s.timestamp()
		case "authority":
			if s.want('{', "an object") {
				st.Authority = new(Actor)
				s.actor(st.Authority, true)
			}
		case "version":
			st.Version, _ = s.str()
		default:
			s.unknownKey(key, statementKeys...)
		}
	})
}

var subStatementKeys = []string{"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}

func (s *scanner) subStatement(st *SubStatement) {
	c := core{&st.Actor, &st.Verb, &st.Object, &st.Result, &st.Context, &st.Timestamp, &st.Attachments}
	s.object(func(key string) {
		if s.coreField(key, c, true) {
			return
		}
		switch key {
		case "objectType":
			s.skipValue() // checked by the caller
		case "id", "stored", "version", "authority":
			s.problem(RuleSubStatement, "a SubStatement cannot have "+quote(key))
			s.skipValue()
		default:
			s.unknownKey(key, subStatementKeys...)
		}
	})
}

func (s *scanner) timestamp() time.Time {
	v, ok := s.str()
	if !ok {
		return time.Time{}
	}
	t, err := ParseTimestamp(v)
	if err != nil {
		s.problem(RuleTimestamp, err.Error())
		return time.Time{}
	}
	return t
}

// peekObjectType returns the objectType of the object that starts at the
// scanner's position without consuming anything. present is false when the
// object has no objectType key; ok is false when it is not a string.
func (s *scanner) peekObjectType() (value string, present, ok bool) {
	save, saveProbs := s.pos, len(s.probs)
	defer func() {
		s.pos = save
		s.probs = s.probs[:saveProbs]
	}()
	s.expect('{')
	if s.peek() == '}' {
		return "", false, true
	}
	for {
		if s.peek() != '"' {
			s.syntax("want object key")
		}
		key := s.rawKey()
		s.expect(':')
		if key == "objectType" {
			if s.peek() != '"' {
				return "", true, false
			}
			return s.rawKey(), true, true
		}
		s.skipValue()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			return "", false, true
		default:
			s.syntax("want ',' or '}' in object")
		}
	}
}

// leadingObjectType is peekObjectType for an object whose first key is
// objectType; for any other object it reports no objectType without
// looking further.
func (s *scanner) leadingObjectType() (value string, present, ok bool) {
	save := s.pos
	defer func() { s.pos = save }()
	s.expect('{')
	if s.peek() != '"' || !s.hasPrefix(`"objectType"`) {
		return "", false, true
	}
	s.rawKey()
	s.expect(':')
	if s.peek() != '"' {
		return "", true, false
	}
	return s.rawKey(), true, true
}

// statementObject reads the object of a statement or sub-statement.
func (s *scanner) statementObject(inSub bool) Object {
	if !s.want('{', "an object") {
		return nil
	}
	var (
		ot          string
		present, ok bool
	)
	if s.lazy {
		// Guess without reading the whole object: objectType comes first
		// or the object is an Activity. A wrong guess meets an objectType
		// or key that an Activity does not have, which is a problem, and
		// parse reads everything again without guessing.
		ot, present, ok = s.leadingObjectType()
	} else {
		ot, present, ok = s.peekObjectType()
	}
	if !ok {
		ot = "" // reported when the key is read
	}
	switch {
	case !present || ot == ObjectTypeActivity:
		a := new(Activity)
		s.activity(a)
		return a
	case ot == ObjectTypeAgent || ot == ObjectTypeGroup:
		a := new(Actor)
		s.actor(a, false)
		return a
	case ot == ObjectTypeStatementRef:
		r := new(StatementRef)
		s.statementRef(r)
		return r
	case ot == ObjectTypeSubStatement:
		if inSub {
			s.problem(RuleSubStatement, "a SubStatement cannot contain a SubStatement")
		}
		sub := new(SubStatement)
		s.subStatement(sub)
		return sub
	default:
		s.push("objectType")
		if ok {
			s.problem(RuleObjectType, "objectType "+quote(ot)+" is not Activity, Agent, Group, StatementRef or SubStatement")
		} else {
			s.problem(RuleJSONType, "objectType must be a string")
		}
		s.pop()
		s.skipValue()
		return nil
	}
}

func (s *scanner) objectType(want ...string) string {
	if !s.want('"', "a string") {
		return ""
	}
	v := s.rawKey()
	for _, w := range want {
		if v == w {
			return v
		}
	}
	msg := "objectType " + quote(v) + " is not allowed here, want " + quote(want[0])
	for _, w := range want[1:] {
		msg += " or " + quote(w)
	}
	s.problem(RuleObjectType, msg)
	return ""
}

var actorKeys = []string{"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member"}

// actor reads an Agent or Group. ObjectType is always set on return.
func (s *scanner) actor(a *Actor, objectTypeOptional bool) {
	if !s.want('{', "an object") {
		return
	}
	hasOT := false
	s.object(func(key string) {
		switch key {
		case "objectType":
			hasOT = true
			a.ObjectType = s.objectType(ObjectTypeAgent, ObjectTypeGroup)
		case "name":
			a.Name, _ = s.str()
		case "mbox":
			a.Mbox, _ = s.str()
		case "mbox_sha1sum":
			a.MboxSHA1Sum, _ = s.str()
		case "openid":
			a.OpenID, _ = s.str()
		case "account":
			if s.want('{', "an object") {
				a.Account = new(Account)
				s.account(a.Account)
			}
		case "member":
			if s.want('[', "an array") {
				a.Member = []Actor{}
				s.array(func(i int) {
					a.Member = append(a.Member, Actor{})
					s.actor(&a.Member[len(a.Member)-1], true)
				})
			}
		default:
			s.unknownKey(key, actorKeys...)
		}
	})
	if !hasOT && !objectTypeOptional {
		s.problem(RuleObjectType, "objectType is required for an agent or group used as an object")
	}
	if a.ObjectType == "" {
		a.ObjectType = ObjectTypeAgent
		if !hasOT && a.Member != nil {
			// "member" without objectType: an Agent cannot have members.
			s.push("member")
			s.problem(RuleUnknownKey, "member is only allowed on a Group; objectType \"Group\" is missing")
			s.pop()
			a.Member = nil
		}
	}
	if a.ObjectType == ObjectTypeAgent && hasOT && a.Member != nil {
		s.push("member")
		s.problem(RuleUnknownKey, "member is only allowed on a Group")
		s.pop()
		a.Member = nil
	}
}

func (s *scanner) account(ac *Account) {
	s.object(func(key string) {
		switch key {
		case "homePage":
			ac.HomePage, _ = s.str()
		case "name":
			ac.Name, _ = s.str()
		default:
			s.unknownKey(key, "homePage", "name")
		}
	})
}

func (s *scanner) verb(v *Verb) {
	if !s.want('{', "an object") {
		return
	}
	s.object(func(key string) {
		switch key {
		case "id":
			v.ID, _ = s.str()
		case "display":
			v.Display = s.languageMap()
		default:
			s.unknownKey(key, "id", "display")
		}
	})
}

func (s *scanner) languageMap() LanguageMap {
	if !s.want('{', "a language map object") {
		return nil
	}
	m := LanguageMap{}
	s.mapObject(func(key string) {
		if v, ok := s.str(); ok {
			m[key] = v
		}
	})
	return m
}

func (s *scanner) extensions() Extensions {
	if !s.want('{', "an extensions object") {
		return nil
	}
	m := Extensions{}
	s.mapObject(func(key string) {
		raw := s.rawValue()
		m[key] = json.RawMessage(bytes.Clone(raw))
	})
	return m
}

func (s *scanner) activity(a *Activity) {
	s.object(func(key string) {
		switch key {
		case "objectType":
			s.objectType(ObjectTypeActivity)
		case "id":
			a.ID, _ = s.str()
		case "definition":
			if s.want('{', "an object") {
				a.Definition = new(ActivityDefinition)
				s.definition(a.Definition)
			}
		default:
			s.unknownKey(key, "objectType", "id", "definition")
		}
	})
}

var definitionKeys = []string{"name", "description", "type", "moreInfo", "interactionType", "correctResponsesPattern", "choices", "scale", "source", "target", "steps", "extensions"}

func (s *scanner) definition(d *ActivityDefinition) {
	s.object(func(key string) {
		switch key {
		case "name":
			d.Name = s.languageMap()
		case "description":
			d.Description = s.languageMap()
		case "type":
			d.Type, _ = s.str()
		case "moreInfo":
			d.MoreInfo, _ = s.str()
		case "interactionType":
			d.InteractionType, _ = s.str()
		case "correctResponsesPattern":
			if s.want('[', "an array of strings") {
				d.CorrectResponsesPattern = []string{}
				s.array(func(int) {
					if v, ok := s.str(); ok {
						d.CorrectResponsesPattern = append(d.CorrectResponsesPattern, v)
					}
				})
			}
		case "choices":
			d.Choices = s.components()
		case "scale":
			d.Scale = s.components()
		case "source":
			d.Source = s.components()
		case "target":
			d.Target = s.components()
		case "steps":
			d.Steps = s.components()
		case "extensions":
			d.Extensions = s.extensions()
		default:
			s.unknownKey(key, definitionKeys...)
		}
	})
}

func (s *scanner) components() []InteractionComponent {
	if !s.want('[', "an array of interaction components") {
		return nil
	}
	list := []InteractionComponent{}
	s.array(func(int) {
		if !s.want('{', "an object") {
			return
		}
		var c InteractionComponent
		s.object(func(key string) {
			switch key {
			case "id":
				c.ID, _ = s.str()
			case "description":
				c.Description = s.languageMap()
			default:
				s.unknownKey(key, "id", "description")
			}
		})
		list = append(list, c)
	})
	return list
}

func (s *scanner) statementRef(r *StatementRef) {
	s.object(func(key string) {
		switch key {
		case "objectType":
			s.objectType(ObjectTypeStatementRef)
		case "id":
			r.ID, _ = s.str()
		default:
			s.unknownKey(key, "objectType", "id")
		}
	})
}

func (s *scanner) result(r *Result) {
	s.object(func(key string) {
		switch key {
		case "score":
			if s.want('{', "an object") {
				r.Score = new(Score)
				s.score(r.Score)
			}
		case "success":
			if v, ok := s.boolean(); ok {
				r.Success = &v
			}
		case "completion":
			if v, ok := s.boolean(); ok {
				r.Completion = &v
			}
		case "response":
			if v, ok := s.str(); ok {
				r.Response = &v
			}
		case "duration":
			if v, ok := s.str(); ok {
				d, err := ParseDuration(v)
				if err != nil {
					s.problem(RuleDuration, err.Error())
				} else {
					r.Duration = &d
				}
			}
		case "extensions":
			r.Extensions = s.extensions()
		default:
			s.unknownKey(key, "score", "success", "completion", "response", "duration", "extensions")
		}
	})
}

func (s *scanner) score(sc *Score) {
	num := func() *float64 {
		if v, ok := s.number(); ok {
			return &v
		}
		return nil
	}
	s.object(func(key string) {
		switch key {
		case "scaled":
			sc.Scaled = num()
		case "raw":
			sc.Raw = num()
		case "min":
			sc.Min = num()
		case "max":
			sc.Max = num()
		default:
			s.unknownKey(key, "scaled", "raw", "min", "max")
		}
	})
}

var contextKeys = []string{"registration", "instructor", "team", "contextActivities", "contextAgents", "contextGroups", "revision", "platform", "language", "statement", "extensions"}

func (s *scanner) context(c *Context) {
	s.object(func(key string) {
		switch key {
		case "registration":
			c.Registration, _ = s.str()
		case "instructor":
			if s.want('{', "an object") {
				c.Instructor = new(Actor)
				s.actor(c.Instructor, true)
			}
		case "team":
			if s.want('{', "an object") {
				c.Team = new(Actor)
				s.actor(c.Team, true)
			}
		case "contextActivities":
			if s.want('{', "an object") {
				c.ContextActivities = new(ContextActivities)
				s.contextActivities(c.ContextActivities)
			}
		case "contextAgents":
			if s.want('[', "an array") {
				c.ContextAgents = []ContextAgent{}
				s.array(func(int) {
					if s.want('{', "an object") {
						var ca ContextAgent
						s.contextAgent(&ca)
						c.ContextAgents = append(c.ContextAgents, ca)
					}
				})
			}
		case "contextGroups":
			if s.want('[', "an array") {
				c.ContextGroups = []ContextGroup{}
				s.array(func(int) {
					if s.want('{', "an object") {
						var cg ContextGroup
						s.contextGroup(&cg)
						c.ContextGroups = append(c.ContextGroups, cg)
					}
				})
			}
		case "revision":
			c.Revision, _ = s.str()
		case "platform":
			c.Platform, _ = s.str()
		case "language":
			c.Language, _ = s.str()
		case "statement":
			if s.want('{', "an object") {
				c.Statement = new(StatementRef)
				ot, present, _ := s.peekObjectType()
				if present && ot != ObjectTypeStatementRef {
					s.push("objectType")
					s.problem(RuleObjectType, "context.statement must be a StatementRef")
					s.pop()
				} else if !present {
					s.problem(RuleObjectType, "objectType \"StatementRef\" is required")
				}
				if ot == ObjectTypeStatementRef || !present {
					s.statementRef(c.Statement)
				} else {
					s.skipValue()
				}
			}
		case "extensions":
			c.Extensions = s.extensions()
		default:
			s.unknownKey(key, contextKeys...)
		}
	})
}

func (s *scanner) contextActivities(ca *ContextActivities) {
	s.object(func(key string) {
		var list *[]Activity
		switch key {
		case "parent":
			list = &ca.Parent
		case "grouping":
			list = &ca.Grouping
		case "category":
			list = &ca.Category
		case "other":
			list = &ca.Other
		default:
			s.unknownKey(key, "parent", "grouping", "category", "other")
			return
		}
		switch s.peek() {
		case '{': // a single activity is tolerated; it becomes a list
			*list = make([]Activity, 1)
			s.activity(&(*list)[0])
		case '[':
			*list = []Activity{}
			s.array(func(int) {
				if s.want('{', "an activity object") {
					*list = append(*list, Activity{})
					s.activity(&(*list)[len(*list)-1])
				}
			})
		default:
			s.want('[', "an array of activities")
		}
	})
}

func (s *scanner) relevantTypes() []string {
	if !s.want('[', "an array of IRIs") {
		return nil
	}
	list := []string{}
	s.array(func(int) {
		if v, ok := s.str(); ok {
			list = append(list, v)
		}
	})
	return list
}

func (s *scanner) contextAgent(ca *ContextAgent) {
	hasOT := false
	s.object(func(key string) {
		switch key {
		case "objectType":
			hasOT = true
			s.objectType(ObjectTypeContextAgent)
		case "agent":
			s.actor(&ca.Agent, true)
		case "relevantTypes":
			ca.RelevantTypes = s.relevantTypes()
		default:
			s.unknownKey(key, "objectType", "agent", "relevantTypes")
		}
	})
	if !hasOT {
		s.problem(RuleObjectType, "objectType \"contextAgent\" is required")
	}
}

func (s *scanner) contextGroup(cg *ContextGroup) {
	hasOT := false
	s.object(func(key string) {
		switch key {
		case "objectType":
			hasOT = true
			s.objectType(ObjectTypeContextGroup)
		case "group":
			s.actor(&cg.Group, true)
		case "relevantTypes":
			cg.RelevantTypes = s.relevantTypes()
		default:
			s.unknownKey(key, "objectType", "group", "relevantTypes")
		}
	})
	if !hasOT {
		s.problem(RuleObjectType, "objectType \"contextGroup\" is required")
	}
}

var attachmentKeys = []string{"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}

func (s *scanner) attachments() []Attachment {
	if !s.want('[', "an array") {
		return nil
	}
	list := []Attachment{}
	s.array(func(int) {
		if !s.want('{', "an object") {
			return
		}
		var at Attachment
		s.object(func(key string) {
			switch key {
			case "usageType":
				at.UsageType, _ = s.str()
			case "display":
				at.Display = s.languageMap()
			case "description":
				at.Description = s.languageMap()
			case "contentType":
				at.ContentType, _ = s.str()
			case "length":
				if !s.want('0', "an integer") {
					return
				}
				lit := s.numberLiteral()
				n, ok := parseInt64(lit)
				if !ok {
					s.problem(RuleJSONType, "length "+lit+" is not an integer")
					return
				}
				at.Length = n
			case "sha2":
				at.SHA2, _ = s.str()
			case "fileUrl":
				at.FileURL, _ = s.str()
			default:
				s.unknownKey(key, attachmentKeys...)
			}
		})
		list = append(list, at)
	})
	return list
}

// parseInt64 parses a JSON integer literal (no fraction or exponent).
func parseInt64(lit string) (int64, bool) {
	neg := false
	i := 0
	if i < len(lit) && lit[0] == '-' {
		neg = true
		i++
	}
	if i == len(lit) {
		return 0, false
	}
	var n int64
	for ; i < len(lit); i++ {
		c := lit[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// ErrNoStatements is returned by ParseStatements for input that holds no
// statement at all.
var ErrNoStatements = errors.New("no statements in input")

// ParseStatements splits input holding statements into one raw JSON value
// per statement, without decoding them. It accepts a JSON array of
// statements, a single statement object, or NDJSON (one statement per line;
// blank lines are skipped). A malformed array is an error; a malformed NDJSON
// line is returned as it is, so that Parse reports it against its index.
func ParseStatements(data []byte) ([]json.RawMessage, error) {
	s := scanner{data: data}
	var out []json.RawMessage
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(syntaxAbort); !ok {
					panic(r)
				}
				err = s.probs
			}
		}()
		switch s.peek() {
		case 0:
			err = ErrNoStatements
		case '[':
			s.array(func(int) {
				out = append(out, json.RawMessage(s.rawValue()))
			})
			if !s.atEnd() {
				s.syntax("data after the array")
			}
		default:
			out = splitValues(data)
		}
	}()
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNoStatements
	}
	return out, nil
}

// splitValues returns data as one value when it is a single well-formed JSON
// value, and as its non-blank lines otherwise.
func splitValues(data []byte) []json.RawMessage {
	if single, ok := singleValue(data); ok {
		return []json.RawMessage{single}
	}
	first := bytes.TrimSpace(data)
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	if _, ok := singleValue(first); !ok {
		// Not NDJSON either: one malformed value, reported as such.
		return []json.RawMessage{json.RawMessage(bytes.TrimSpace(data))}
	}
	var out []json.RawMessage
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			out = append(out, json.RawMessage(line))
		}
	}
	return out
}

func singleValue(data []byte) (v []byte, ok bool) {
	s := scanner{data: data}
	defer func() {
		if r := recover(); r != nil {
			if _, isAbort := r.(syntaxAbort); !isAbort {
				panic(r)
			}
			ok = false
		}
	}()
	raw := s.rawValue()
	if !s.atEnd() {
		return nil, false
	}
	return raw, true
}
