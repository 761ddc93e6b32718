package normalize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// scormEventMemory is how many event ids of an attempt are remembered to
// recognise re-sent calls; scormReplayMemory is how many of the last calls
// keep their statements, so that re-sending them yields the same statements
// again.
const (
	scormEventMemory  = 64
	scormReplayMemory = 4
)

// scormState is what is remembered per attempt between SCORM calls: what has
// been reported, so that only changes yield statements.
type scormState struct {
	// Completed is true once completed was reported (or passed in SCORM
	// 1.2, which implies completion).
	Completed bool `json:"completed,omitempty"`
	// Success is the last reported success status: "passed" or "failed".
	Success string `json:"success,omitempty"`
	// Score is the canonical form of the last reported score.
	Score string `json:"score,omitempty"`
	// Interactions maps an interaction index to the digest of its last
	// reported statement.
	Interactions map[string]string `json:"interactions,omitempty"`
	// Events holds the ids of the last events handled, oldest first.
	Events []string `json:"events,omitempty"`
	// Recent holds the statements of the last events handled, oldest
	// first.
	Recent []scormSent `json:"recent,omitempty"`
}

// scormSent is an event handled and the canonical encoding of the
// statements it yielded.
type scormSent struct {
	Event      string            `json:"event"`
	Statements []json.RawMessage `json:"statements,omitempty"`
}

// scormPayload is the decoded payload of a scorm.runtime event.
type scormPayload struct {
	v12                     bool
	pkg, sco, attempt, call string
	cmi                     cmiNode
	scoIRI, attemptIRI, key string
	scoAct, attemptAct      xapi.Activity
	completion, success     string // normalized: completed/incomplete/"" and passed/failed/""
	score                   *xapi.Score
	progress                *int
	sessionTime             *xapi.Duration
}

// cmiNode is a node of the CMI tree, decoded with json.Number for numbers.
type cmiNode struct {
	j    *job
	path string
	v    any
}

// child returns the member key of an object node, or of an array node when
// key is an index. It returns a node with a nil value when absent.
func (c cmiNode) child(key string) cmiNode {
	n := cmiNode{j: c.j, path: c.path + "." + key}
	switch v := c.v.(type) {
	case map[string]any:
		n.v = v[key]
	case []any:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(v) {
			n.v = v[i]
		}
	}
	return n
}

// at walks keys below c.
func (c cmiNode) at(keys ...string) cmiNode {
	for _, k := range keys {
		c = c.child(k)
	}
	return c
}

// str returns the value of a leaf as a string: SCORM values are strings,
// but numbers and booleans sent as JSON are accepted in their JSON form.
func (c cmiNode) str() (string, error) {
	switch v := c.v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		return "", c.j.fail(c.path, "want a string, got an array")
	}
	return "", c.j.fail(c.path, "want a string, got an object")
}

// number returns the value of a leaf as a number, nil when empty. SCORM
// runtimes send numbers as strings ("85"); they must be plain decimals.
func (c cmiNode) number() (*float64, error) {
	s, err := c.str()
	if err != nil || s == "" {
		return nil, err
	}
	if !isDecimal(s) {
		return nil, c.j.fail(c.path, "%s is not a decimal number", strconv.Quote(clip(s)))
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) {
		return nil, c.j.fail(c.path, "%s is out of range", strconv.Quote(clip(s)))
	}
	return &x, nil
}

// isDecimal reports whether s is an optionally signed decimal number with an
// optional fraction and exponent, the forms SCORM runtimes write.
func isDecimal(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, hasFrac := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || hasFrac && frac == "" && intPart == "" {
		return false
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return false
	}
	if hasExp {
		if exp != "" && (exp[0] == '-' || exp[0] == '+') {
			exp = exp[1:]
		}
		return exp != "" && allDigits(exp)
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// entries returns the elements of a list node (interactions, correct
// responses) with their indexes, in index order: a JSON array, or an object
// keyed "0", "1", ... whose other keys (such as "_count") are ignored.
func (c cmiNode) entries() ([]cmiNode, error) {
	switch v := c.v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]cmiNode, 0, len(v))
		for i, e := range v {
			out = append(out, cmiNode{j: c.j, path: c.path + "." + strconv.Itoa(i), v: e})
		}
		return out, nil
	case map[string]any:
		idx := make([]int, 0, len(v))
		for k := range v {
			if i, err := strconv.Atoi(k); err == nil && i >= 0 && strconv.Itoa(i) == k {
				idx = append(idx, i)
			}
		}
		sort.Ints(idx)
		out := make([]cmiNode, 0, len(idx))
		for _, i := range idx {
			k := strconv.Itoa(i)
			out = append(out, cmiNode{j: c.j, path: c.path + "." + k, v: v[k]})
		}
		return out, nil
	}
	return nil, c.j.fail(c.path, "want an array or an object keyed by index")
}

// scormDuration parses a SCORM time interval: HHHH:MM:SS.SS in SCORM 1.2
// (ISO 8601 is accepted too), ISO 8601 in SCORM 2004. Empty gives nil.
func (c cmiNode) duration(v12 bool) (*xapi.Duration, error) {
	s, err := c.str()
	if err != nil || s == "" {
		return nil, err
	}
	if v12 && !strings.HasPrefix(s, "P") {
		d, ok := parseCMITimespan(s)
		if !ok {
			return nil, c.j.fail(c.path, "%s is not a SCORM 1.2 time span HHHH:MM:SS.SS", strconv.Quote(clip(s)))
		}
		return &d, nil
	}
	d, err := xapi.ParseDuration(s)
	if err != nil {
		return nil, c.j.failErr(c.path, err)
	}
	return &d, nil
}

// parseCMITimespan parses the SCORM 1.2 CMITimespan HHHH:MM:SS.SS: two to
// four digits of hours, two of minutes and seconds (below 60), and an
// optional fraction of one or two digits (further digits are truncated).
func parseCMITimespan(s string) (xapi.Duration, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return xapi.Duration{}, false
	}
	h, m, sec := parts[0], parts[1], parts[2]
	sec, frac, hasFrac := strings.Cut(sec, ".")
	if len(h) < 2 || len(h) > 4 || !allDigits(h) || len(m) != 2 || !allDigits(m) ||
		len(sec) != 2 || !allDigits(sec) || hasFrac && (frac == "" || !allDigits(frac)) {
		return xapi.Duration{}, false
	}
	hours, _ := strconv.Atoi(h)
	mins, _ := strconv.Atoi(m)
	secs, _ := strconv.Atoi(sec)
	if mins > 59 || secs > 59 {
		return xapi.Duration{}, false
	}
	cs := 0
	for i := 0; i < 2; i++ {
		cs *= 10
		if i < len(frac) {
			cs += int(frac[i] - '0')
		}
	}
	d := time.Duration(hours)*time.Hour + time.Duration(mins)*time.Minute +
		time.Duration(secs)*time.Second + time.Duration(cs)*10*time.Millisecond
	return xapi.DurationOf(d), true
}

// scormFinish takes the final statements of a call and returns the function
// that saves the attempt's new state, or an error when that state would be
// too large.
type scormFinish func([]*xapi.Statement) (save func(context.Context) error, err error)

// Bounds of one SCORM attempt: its saved state in bytes, its interactions
// (SCORM 2004 requires runtimes to keep at least 250), and the length of an
// interaction id (SCORM's long identifier holds at least 4000 characters).
const (
	maxScormState   = 1 << 20
	maxInteractions = 1000
	maxElementID    = 4000
)

// scorm: one SCORM runtime call. It returns the statements, the function
// that prepares the attempt's new state from the final statements (nil for
// a re-sent call) and the function that releases the attempt's lock.
func (j *job) scorm(ctx context.Context) ([]out, scormFinish, func(), error) {
	p, err := j.scormPayload()
	if err != nil {
		return nil, nil, nil, err
	}
	actor, err := j.learner()
	if err != nil {
		return nil, nil, nil, err
	}
	unlock := j.n.lock(p.key)
	st, err := j.loadScormState(ctx, p.key)
	if err != nil {
		return nil, nil, unlock, err
	}
	for _, sent := range st.Recent {
		if sent.Event == j.ev.ID {
			// Re-sent: the same statements again, which the LRS
			// recognises by their ids.
			outs, err := j.replay(sent)
			return outs, nil, unlock, err
		}
	}
	if slices.Contains(st.Events, j.ev.ID) {
		return nil, nil, unlock, nil // re-sent long ago: nothing new
	}

	var outs []out
	add := func(s *xapi.Statement) {
		s.Actor = actor
		if s.Timestamp.IsZero() {
			s.Timestamp = j.at
		}
		outs = append(outs, out{st: s})
	}

	if p.call == "Initialize" {
		entry, err := p.cmi.at(p.path("entry")...).str()
		if err != nil {
			return nil, nil, unlock, err
		}
		word := "initialized"
		if entry == "resume" {
			word = "resumed"
		}
		add(j.scormStatement(p, word, nil))
	}

	interactions, err := j.scormInteractions(p, st)
	if err != nil {
		return nil, nil, unlock, err
	}
	for _, s := range interactions {
		add(s)
	}

	scoreKey := scoreString(p.score)
	if p.completion == "completed" && !st.Completed {
		st.Completed = true
		// In SCORM 1.2, passed implies completion and is reported below
		// with completion set.
		if !(p.v12 && p.success == "passed") {
			add(j.scormStatement(p, "completed", &xapi.Result{Completion: ptr(true)}))
		}
	}
	switch {
	case p.success != "" && p.success != st.Success:
		st.Success = p.success
		res := &xapi.Result{Score: p.score, Success: ptr(p.success == "passed")}
		if p.v12 && p.success == "passed" {
			res.Completion = ptr(true)
		}
		if p.score != nil {
			st.Score = scoreKey
		}
		add(j.scormStatement(p, p.success, res))
	case p.score != nil && scoreKey != st.Score:
		st.Score = scoreKey
		add(j.scormStatement(p, "scored", &xapi.Result{Score: p.score}))
	}

	if p.call == "Terminate" {
		exit, err := p.cmi.at(p.path("exit")...).str()
		if err != nil {
			return nil, nil, unlock, err
		}
		word := "terminated"
		if exit == "suspend" {
			word = "suspended"
		}
		res := &xapi.Result{Score: p.score, Duration: p.sessionTime}
		switch p.completion {
		case "completed":
			res.Completion = ptr(true)
		case "incomplete":
			res.Completion = ptr(false)
		}
		if p.success != "" {
			res.Success = ptr(p.success == "passed")
		}
		if p.progress != nil {
			res.Extensions = xapi.Extensions{
				"https://w3id.org/xapi/cmi5/result/extensions/progress": json.RawMessage(strconv.Itoa(*p.progress)),
			}
		}
		if res.Score == nil && res.Duration == nil && res.Completion == nil && res.Success == nil && res.Extensions == nil {
			res = nil
		}
		add(j.scormStatement(p, word, res))
	}

	st.Events = append(st.Events, j.ev.ID)
	if len(st.Events) > scormEventMemory {
		st.Events = slices.Clone(st.Events[len(st.Events)-scormEventMemory:])
	}
	finish := func(sts []*xapi.Statement) (func(context.Context) error, error) {
		if len(sts) > 0 {
			// Only calls that yielded statements are kept for replay, so
			// that calls that changed nothing do not push them out.
			sent := scormSent{Event: j.ev.ID}
			for _, s := range sts {
				b, err := xapi.Marshal(s, xapi.V200)
				if err != nil {
					return nil, err
				}
				sent.Statements = append(sent.Statements, b)
			}
			st.Recent = append(st.Recent, sent)
			if len(st.Recent) > scormReplayMemory {
				st.Recent = slices.Clone(st.Recent[len(st.Recent)-scormReplayMemory:])
			}
		}
		b, err := json.Marshal(st)
		// Replays are a convenience: the oldest give way to the bound
		// before the call is refused.
		for err == nil && len(b) > maxScormState && len(st.Recent) > 0 {
			st.Recent = st.Recent[1:]
			b, err = json.Marshal(st)
		}
		if err != nil {
			return nil, err
		}
		if len(b) > maxScormState {
			return nil, j.fail("payload.cmi", "the attempt's state would grow to %d bytes, more than the %d allowed per attempt", len(b), maxScormState)
		}
		return func(ctx context.Context) error {
			if err := j.n.state.Save(ctx, j.ev.Org, p.key, b); err != nil {
				return fmt.Errorf("normalize: event %q: save scorm state: %w", j.ev.ID, err)
			}
			return nil
		}, nil
	}
	return outs, finish, unlock, nil
}

// replay decodes the statements a call yielded before.
func (j *job) replay(sent scormSent) ([]out, error) {
	outs := make([]out, 0, len(sent.Statements))
	for _, b := range sent.Statements {
		s, err := xapi.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("normalize: event %q: saved scorm statement: %w", j.ev.ID, err)
		}
		outs = append(outs, out{st: s})
	}
	return outs, nil
}

// path returns the CMI path of a data model element: below cmi.core for
// entry, exit, session_time and score in SCORM 1.2, directly below cmi in
// SCORM 2004.
func (p *scormPayload) path(elem ...string) []string {
	if p.v12 {
		switch elem[0] {
		case "entry", "exit", "session_time", "score", "lesson_status":
			return append([]string{"core"}, elem...)
		}
	}
	return elem
}

func (j *job) loadScormState(ctx context.Context, key string) (*scormState, error) {
	b, found, err := j.n.state.Load(ctx, j.ev.Org, key)
	if err != nil {
		return nil, fmt.Errorf("normalize: event %q: load scorm state: %w", j.ev.ID, err)
	}
	st := new(scormState)
	if found {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("normalize: event %q: load scorm state %s: %w", j.ev.ID, key, err)
		}
	}
	if st.Interactions == nil {
		st.Interactions = make(map[string]string)
	}
	return st, nil
}

// scormPayload decodes and checks the payload of a scorm.runtime event.
func (j *job) scormPayload() (*scormPayload, error) {
	f, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	p := new(scormPayload)
	version, err := f.str("version", true)
	if err != nil {
		return nil, err
	}
	switch version {
	case "1.2":
		p.v12 = true
	case "2004":
	default:
		return nil, j.fail("payload.version", "%s is not \"1.2\" or \"2004\"", strconv.Quote(clip(version)))
	}
	if p.pkg, err = f.id("package_id"); err != nil {
		return nil, err
	}
	if p.sco, err = f.id("sco_id"); err != nil {
		return nil, err
	}
	if p.attempt, err = f.id("attempt_id"); err != nil {
		return nil, err
	}
	if p.call, err = f.str("call", true); err != nil {
		return nil, err
	}
	switch p.call {
	case "Initialize", "Commit", "Terminate":
	default:
		return nil, j.fail("payload.call", "%s is not Initialize, Commit or Terminate", strconv.Quote(clip(p.call)))
	}
	raw := f.get("cmi")
	if raw == nil {
		raw = json.RawMessage("{}")
	}
	if k := jsonKind(raw); k != '{' {
		return nil, j.fail("payload.cmi", "want a JSON object, got %s", kindName(k))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, j.fail("payload.cmi", "not well-formed JSON")
	}
	p.cmi = cmiNode{j: j, path: "payload.cmi", v: tree}

	attemptUUID := j.uuid("scorm-attempt", j.ev.Org, j.ev.User.ID, p.pkg, p.sco, p.attempt)
	p.key = "scorm-" + attemptUUID
	p.scoIRI = j.iri("scorm", p.pkg, p.sco)
	p.attemptIRI = p.scoIRI + "?attemptId=" + attemptUUID
	p.scoAct = xapi.Activity{ID: p.scoIRI, Definition: &xapi.ActivityDefinition{Type: typeLesson}}
	p.attemptAct = xapi.Activity{ID: p.attemptIRI, Definition: &xapi.ActivityDefinition{Type: typeAttempt}}

	if err := j.scormStatus(p); err != nil {
		return nil, err
	}
	if p.score, err = j.scormScore(p); err != nil {
		return nil, err
	}
	if p.sessionTime, err = p.cmi.at(p.path("session_time")...).duration(p.v12); err != nil {
		return nil, err
	}
	if !p.v12 {
		pm := p.cmi.child("progress_measure")
		x, err := pm.number()
		if err != nil {
			return nil, err
		}
		if x != nil {
			if *x < 0 || *x > 1 {
				return nil, j.fail(pm.path, "%s is outside [0, 1]", fmtNum(*x))
			}
			p.progress = ptr(int(math.Round(*x * 100)))
		}
	}
	return p, nil
}

// scormStatus reads the completion and success status. SCORM 1.2 has one
// lesson_status: passed (completed and passed), completed, failed,
// incomplete, browsed or not attempted. SCORM 2004 has completion_status
// (completed, incomplete, not attempted, unknown) and success_status
// (passed, failed, unknown).
func (j *job) scormStatus(p *scormPayload) error {
	if p.v12 {
		n := p.cmi.at("core", "lesson_status")
		s, err := n.str()
		if err != nil {
			return err
		}
		switch s {
		case "passed":
			p.completion, p.success = "completed", "passed"
		case "completed":
			p.completion = "completed"
		case "failed":
			p.success = "failed"
		case "incomplete", "browsed", "not attempted":
			p.completion = "incomplete"
		case "":
		default:
			return j.fail(n.path, "%s is not a SCORM 1.2 lesson status", strconv.Quote(clip(s)))
		}
		return nil
	}
	n := p.cmi.child("completion_status")
	s, err := n.str()
	if err != nil {
		return err
	}
	switch s {
	case "completed":
		p.completion = "completed"
	case "incomplete", "not attempted":
		p.completion = "incomplete"
	case "unknown", "":
	default:
		return j.fail(n.path, "%s is not a SCORM 2004 completion status", strconv.Quote(clip(s)))
	}
	n = p.cmi.child("success_status")
	if s, err = n.str(); err != nil {
		return err
	}
	switch s {
	case "passed", "failed":
		p.success = s
	case "unknown", "":
	default:
		return j.fail(n.path, "%s is not a SCORM 2004 success status", strconv.Quote(clip(s)))
	}
	return nil
}

// scormScore reads the score. Without raw (and, in 2004, without scaled)
// there is no score. min and max are kept only when both are given, min <
// max and raw lies between them. SCORM 1.2 has no scaled score: it is
// (raw-min)/(max-min) when min and max are kept and raw/100 otherwise, left
// out when that falls outside [-1, 1]. SCORM 2004's scaled must lie in
// [-1, 1] and is never computed.
func (j *job) scormScore(p *scormPayload) (*xapi.Score, error) {
	node := p.cmi.at(p.path("score")...)
	var sc xapi.Score
	var err error
	if sc.Raw, err = node.child("raw").number(); err != nil {
		return nil, err
	}
	if sc.Min, err = node.child("min").number(); err != nil {
		return nil, err
	}
	if sc.Max, err = node.child("max").number(); err != nil {
		return nil, err
	}
	if !p.v12 {
		sn := node.child("scaled")
		if sc.Scaled, err = sn.number(); err != nil {
			return nil, err
		}
		if sc.Scaled != nil && (*sc.Scaled < -1 || *sc.Scaled > 1) {
			return nil, j.fail(sn.path, "%s is outside [-1, 1]", fmtNum(*sc.Scaled))
		}
	}
	if sc.Raw == nil || sc.Min == nil || sc.Max == nil || *sc.Min >= *sc.Max || *sc.Raw < *sc.Min || *sc.Raw > *sc.Max {
		sc.Min, sc.Max = nil, nil
	}
	if p.v12 && sc.Raw != nil {
		scaled := *sc.Raw / 100
		if sc.Min != nil {
			scaled = (*sc.Raw - *sc.Min) / (*sc.Max - *sc.Min)
		}
		if scaled >= -1 && scaled <= 1 {
			sc.Scaled = &scaled
		}
	}
	if sc.Raw == nil && sc.Scaled == nil {
		return nil, nil
	}
	return &sc, nil
}

// scoreString is the canonical form of a score, to recognise changes.
func scoreString(s *xapi.Score) string {
	if s == nil {
		return ""
	}
	f := func(x *float64) string {
		if x == nil {
			return "-"
		}
		return fmtNum(*x)
	}
	return f(s.Scaled) + " " + f(s.Raw) + " " + f(s.Min) + " " + f(s.Max)
}

// scormContext returns the context of SCORM statements: grouping course,
// assignment and attempt, category the SCORM profile, and parent the SCO
// when the object is an interaction.
func (j *job) scormContext(p *scormPayload, interaction bool) *xapi.Context {
	c := j.context(true, p.attemptAct)
	c.ContextActivities.Category = []xapi.Activity{{
		ID: scormProfile, Definition: &xapi.ActivityDefinition{Type: typeProfile},
	}}
	if interaction {
		c.ContextActivities.Parent = []xapi.Activity{p.scoAct}
	}
	return c
}

// scormStatement returns a statement about the SCO with verb word.
func (j *job) scormStatement(p *scormPayload, word string, res *xapi.Result) *xapi.Statement {
	obj := p.scoAct
	return &xapi.Statement{
		Verb:    verb(word),
		Object:  &obj,
		Result:  res,
		Context: j.scormContext(p, false),
	}
}

// scormInteractions returns one statement per interaction that is new or
// changed since it was last reported, and records it in st. An interaction
// without a response and without a result has not been answered yet and is
// left for a later call.
func (j *job) scormInteractions(p *scormPayload, st *scormState) ([]*xapi.Statement, error) {
	node := p.cmi.child("interactions")
	list, err := node.entries()
	if err != nil {
		return nil, err
	}
	if len(list) > maxInteractions {
		return nil, j.fail(node.path, "%d interactions, more than the %d allowed per attempt", len(list), maxInteractions)
	}
	var out []*xapi.Statement
	for _, in := range list {
		if _, ok := in.v.(map[string]any); !ok {
			return nil, j.fail(in.path, "want an object")
		}
		index := in.path[strings.LastIndexByte(in.path, '.')+1:]
		s, err := j.scormInteraction(p, in)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		enc, err := xapi.Marshal(s, xapi.V200)
		if err != nil {
			return nil, j.failErr(in.path, err)
		}
		sum := sha256.Sum256(enc)
		digest := hex.EncodeToString(sum[:12])
		if st.Interactions[index] == digest {
			continue
		}
		st.Interactions[index] = digest
		out = append(out, s)
	}
	return out, nil
}

// scormInteraction builds the statement of one interaction, without actor,
// or nil when it has not been answered.
func (j *job) scormInteraction(p *scormPayload, in cmiNode) (*xapi.Statement, error) {
	respElem := "learner_response"
	if p.v12 {
		respElem = "student_response"
	}
	response, err := in.child(respElem).str()
	if err != nil {
		return nil, err
	}
	result, err := in.child("result").str()
	if err != nil {
		return nil, err
	}
	if response == "" && result == "" {
		return nil, nil
	}
	idNode := in.child("id")
	id, err := idNode.str()
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, j.fail(idNode.path, "required")
	}
	if len(id) > maxElementID {
		return nil, j.fail(idNode.path, "is %d bytes long, more than the %d SCORM allows for an identifier", len(id), maxElementID)
	}
	typ, err := in.child("type").str()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(xapi.InteractionTypes, typ) {
		typ = "" // unknown types are left out rather than refused
	}
	latency, err := in.child("latency").duration(p.v12)
	if err != nil {
		return nil, err
	}
	def := &xapi.ActivityDefinition{Type: typeInteraction, InteractionType: typ}
	if !p.v12 {
		desc, err := in.child("description").str()
		if err != nil {
			return nil, err
		}
		def.Description = j.text(desc)
	}
	if typ != "" {
		crs, err := in.child("correct_responses").entries()
		if err != nil {
			return nil, err
		}
		for _, cr := range crs {
			pat, err := cr.child("pattern").str()
			if err != nil {
				return nil, err
			}
			if p.v12 {
				pat = convertResponse12(typ, pat)
			}
			def.CorrectResponsesPattern = append(def.CorrectResponsesPattern, pat)
		}
	}
	res := &xapi.Result{Duration: latency}
	if response != "" {
		if p.v12 {
			response = convertResponse12(typ, response)
		}
		res.Response = &response
	}
	switch result {
	case "correct":
		res.Success = ptr(true)
	case "incorrect", "wrong":
		res.Success = ptr(false)
	}
	s := &xapi.Statement{
		Verb:    verb(j.s.ScormInteractionVerb),
		Object:  &xapi.Activity{ID: p.scoIRI + "/interactions/" + pathEscape(id), Definition: def},
		Result:  res,
		Context: j.scormContext(p, true),
	}
	if !p.v12 {
		ts, err := in.child("timestamp").str()
		if err != nil {
			return nil, err
		}
		// A time without a zone, or one later than the call, gives way
		// to the time of the call.
		if t, err := xapi.ParseTimestamp(ts); err == nil && !t.After(j.at) {
			s.Timestamp = t
		}
	}
	return s, nil
}

// convertResponse12 converts a SCORM 1.2 response or correct response
// pattern to the xAPI form: true-false t/f/1/0 to true/false, choice and
// sequencing "a,c" to "a[,]c", matching "1.a,2.b" to "1[.]a[,]2[.]b".
func convertResponse12(typ, s string) string {
	switch typ {
	case "true-false":
		switch s {
		case "t", "1", "true":
			return "true"
		case "f", "0", "false":
			return "false"
		}
	case "choice", "sequencing":
		return strings.ReplaceAll(s, ",", "[,]")
	case "matching":
		pairs := strings.Split(s, ",")
		for i, pair := range pairs {
			pairs[i] = strings.Replace(pair, ".", "[.]", 1)
		}
		return strings.Join(pairs, "[,]")
	}
	return s
}
