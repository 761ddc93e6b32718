package launch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// The cmi5 side of a Server: what the LMS must do besides being an LRS
// (cmi5 sections 6.3, 8.2, 9, 10 and 11), for cmi5 launches only.
//
//   - Statements of a cmi5 session are checked against section 9 and
//     refused with 403 when they break it ("the LMS SHOULD reject
//     statements that conflict with section 9"): every statement needs
//     an id, a UTC timestamp, the launch's actor, registration and session
//     id; "cmi5 defined" statements (cmi5 category) follow the verb,
//     result, category and ordering rules; "cmi5 allowed" ones must come
//     between initialized and terminated.
//   - The ordering rules keep state per AU and registration: one document
//     in the store, in a namespace no credential reaches, updated with the
//     statements that pass (so it survives a restart).
//   - After terminated, the session's credential stops working (401), as
//     its token is "limited to the duration of the session".
//   - A new launch in the registration abandons the learner's sessions of
//     it (this AU's and other AUs') that did not terminate: the Server
//     records "abandoned" for each (with the session's duration) and their
//     credentials stop. Abandon, Waive and Satisfy record the LMS's verbs
//     on LearningFlow's word.
//   - The AU may only read LMS.LaunchData; cmi5LearnerPreferences must be
//     read before initialized and written only in its documented form.

// CMI5Settings are an AU's settings from its course structure (cmi5.xml),
// which a cmi5 launch writes to LMS.LaunchData and the launched statement,
// and against which the Server checks what the AU sends.
type CMI5Settings struct {
	// PublisherID is the AU's id in the course structure. The
	// contextTemplate of LMS.LaunchData carries it as a grouping activity,
	// which the AU's cmi5 defined statements must keep. The launcher's
	// ActivityID must differ from it (cmi5 section 8.1.5). Empty means
	// ActivityID.
	PublisherID string
	// MoveOn is the AU's moveOn: "Passed", "Completed",
	// "CompletedAndPassed", "CompletedOrPassed" or "NotApplicable";
	// "Completed" when empty.
	MoveOn string
	// MasteryScore is the AU's masteryScore, from 0 to 1, or nil. Passed
	// and failed statements must then carry it and score on its side of it.
	MasteryScore *float64
	// LaunchMode is "Normal" (when empty), "Browse" or "Review". In Browse
	// and Review the AU may not send completed, passed or failed.
	LaunchMode string
	// LaunchMethod is the AU's launchMethod: "AnyWindow" (when empty) or
	// "OwnWindow" (LearningFlow must then open the AU in a window of its
	// own or in the learner's window, not in a frame).
	LaunchMethod string
	// LaunchParameters are the AU's launchParameters, if any.
	LaunchParameters string
	// EntitlementKey is the AU's entitlementKey in the course structure,
	// if any.
	EntitlementKey string
	// LaunchURL is the AU's URL without the launch parameters (the URL
	// given to Launch.CMI5URL), which the launched statement records
	// (cmi5 section 9.6.3.4). Optional.
	LaunchURL string
}

// cmi5 IRIs and names.
const (
	cmi5MoveOnCategory   = "https://w3id.org/xapi/cmi5/context/categories/moveon"
	cmi5MasteryScore     = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
	cmi5LaunchURL        = "https://w3id.org/xapi/cmi5/context/extensions/launchurl"
	cmi5LaunchParameters = "https://w3id.org/xapi/cmi5/context/extensions/launchparameters"
	cmi5Reason           = "https://w3id.org/xapi/cmi5/result/extensions/reason"
	learnerPrefsID       = "cmi5LearnerPreferences"

	verbInitialized = "http://adlnet.gov/expapi/verbs/initialized"
	verbCompleted   = "http://adlnet.gov/expapi/verbs/completed"
	verbPassed      = "http://adlnet.gov/expapi/verbs/passed"
	verbFailed      = "http://adlnet.gov/expapi/verbs/failed"
	verbTerminated  = "http://adlnet.gov/expapi/verbs/terminated"
	verbAbandoned   = "https://w3id.org/xapi/adl/verbs/abandoned"
	verbWaived      = "https://w3id.org/xapi/adl/verbs/waived"
	verbSatisfied   = "https://w3id.org/xapi/adl/verbs/satisfied"

	launchModeNormal = "Normal"
	moveOnDefault    = "Completed"
)

var (
	moveOnValues  = []string{"Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"}
	launchModes   = []string{launchModeNormal, "Browse", "Review"}
	launchMethods = []string{"AnyWindow", "OwnWindow"}
	lmsOnlyVerbs  = []string{verbLaunched, verbAbandoned, verbWaived, verbSatisfied}
	verbShortName = map[string]string{
		verbInitialized: "initialized", verbCompleted: "completed", verbPassed: "passed",
		verbFailed: "failed", verbTerminated: "terminated",
	}
)

// cmi5Session is what a cmi5 launch keeps (and the sessions file saves).
type cmi5Session struct {
	SessionID string       `json:"session_id"`
	Settings  CMI5Settings `json:"settings"`
	Launched  time.Time    `json:"launched"`
}

// checkCMI5Request validates and completes the cmi5 settings of r.
func checkCMI5Request(r *Request) error {
	c := &r.CMI5Settings
	switch {
	case c.PublisherID == "":
		c.PublisherID = r.ActivityID
	case !xapi.IsIRI(c.PublisherID):
		return fmt.Errorf("launch: PublisherID %q is not an absolute IRI", c.PublisherID)
	case c.PublisherID == r.ActivityID:
		return fmt.Errorf("launch: ActivityID %q is the AU's PublisherID; cmi5 (8.1.5) has the LMS generate an activity id of its own for the AU, the same on every launch", r.ActivityID)
	}
	c.MoveOn = cmp.Or(c.MoveOn, moveOnDefault)
	if !slices.Contains(moveOnValues, c.MoveOn) {
		return fmt.Errorf("launch: MoveOn %q is not one of %s", c.MoveOn, strings.Join(moveOnValues, ", "))
	}
	c.LaunchMode = cmp.Or(c.LaunchMode, launchModeNormal)
	if !slices.Contains(launchModes, c.LaunchMode) {
		return fmt.Errorf("launch: LaunchMode %q is not one of %s", c.LaunchMode, strings.Join(launchModes, ", "))
	}
	c.LaunchMethod = cmp.Or(c.LaunchMethod, launchMethods[0])
	if !slices.Contains(launchMethods, c.LaunchMethod) {
		return fmt.Errorf("launch: LaunchMethod %q is not one of %s", c.LaunchMethod, strings.Join(launchMethods, ", "))
	}
	if m := c.MasteryScore; m != nil && (math.IsNaN(*m) || *m < 0 || *m > 1) {
		return fmt.Errorf("launch: MasteryScore %v is not between 0 and 1", *m)
	}
	return nil
}

// cmi5State is the cmi5 state of one AU in one registration of one
// learner: the registration's facts and each session's.
type cmi5State struct {
	Completed bool `json:"completed,omitempty"`
	Passed    bool `json:"passed,omitempty"`
	Waived    bool `json:"waived,omitempty"`
	Satisfied bool `json:"satisfied,omitempty"`
	// MoveOn is the AU's moveOn at its last launch.
	MoveOn   string                    `json:"moveOn,omitempty"`
	Sessions map[string]*cmi5SessState `json:"sessions,omitempty"`
}

// cmi5SessState is the state of one session.
type cmi5SessState struct {
	Launched    time.Time `json:"launched"`
	Expires     time.Time `json:"expires"`
	PrefsRead   bool      `json:"prefs_read,omitempty"`
	Initialized bool      `json:"initialized,omitempty"`
	// Verbs are the cmi5 defined verbs the session has sent.
	Verbs []string `json:"verbs,omitempty"`
	// Ended is "terminated" or "abandoned" once the session is over.
	Ended string `json:"ended,omitempty"`
	// Last is the latest timestamp of the session's statements.
	Last time.Time `json:"last,omitzero"`
}

// session returns the state of sess's cmi5 session, starting it when
// there is none (a new launch, or one made before the state was kept).
func (st *cmi5State) session(sess *session) *cmi5SessState {
	ss := st.Sessions[sess.cmi5.SessionID]
	if ss == nil {
		ss = &cmi5SessState{Launched: sess.cmi5.Launched, Expires: sess.expires}
		st.Sessions[sess.cmi5.SessionID] = ss
	}
	return ss
}

func (st *cmi5State) clone() *cmi5State {
	c := *st
	c.Sessions = make(map[string]*cmi5SessState, len(st.Sessions))
	for k, v := range st.Sessions {
		s := *v
		s.Verbs = slices.Clone(v.Verbs)
		c.Sessions[k] = &s
	}
	return &c
}

// prune drops the sessions that ended and whose credential expired: no
// request can name them any more.
func (st *cmi5State) prune(now time.Time) {
	for id, s := range st.Sessions {
		if s.Ended != "" && !now.Before(s.Expires) {
			delete(st.Sessions, id)
		}
	}
}

// cmi5Key is the document holding the cmi5 state of sess's AU and
// registration: in namespace "cmi5:<org>", which no credential reaches
// (organization ids have no colon).
func cmi5Key(sess *session) lrsserver.DocKey {
	return lrsserver.DocKey{NS: "cmi5:" + sess.org, Kind: lrsserver.KindState, ActivityID: sess.activityID,
		Agent: lrsserver.AgentKey(sess.principal.Learner), Registration: sess.reg, ID: "cmi5"}
}

// cmi5Locks serialize the checks and updates of one AU's registration
// state (striped: a lock per registration would grow without bound).
type cmi5Locks struct {
	seed  maphash.Seed
	locks [64]sync.Mutex
}

func (l *cmi5Locks) lock(k lrsserver.DocKey) func() {
	var h maphash.Hash
	h.SetSeed(l.seed)
	for _, s := range []string{k.NS, k.ActivityID, k.Agent, k.Registration} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	m := &l.locks[h.Sum64()%uint64(len(l.locks))]
	m.Lock()
	return m.Unlock
}

// loadCMI5 reads the cmi5 state of sess's AU and registration.
func (s *Server) loadCMI5(ctx context.Context, sess *session) (*cmi5State, error) {
	st := &cmi5State{}
	doc, ok, err := s.store.Document(ctx, cmi5Key(sess))
	if err != nil {
		return nil, err
	}
	if ok {
		if err := json.Unmarshal(doc.Body, st); err != nil {
			return nil, fmt.Errorf("the cmi5 state of registration %s is unreadable: %w", sess.reg, err)
		}
	}
	if st.Sessions == nil {
		st.Sessions = map[string]*cmi5SessState{}
	}
	return st, nil
}

// saveCMI5 writes the cmi5 state of sess's AU and registration.
func (s *Server) saveCMI5(ctx context.Context, sess *session, st *cmi5State) error {
	st.prune(s.cfg.Now())
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	return s.store.UpdateDocument(ctx, cmi5Key(sess), func(*lrsserver.Document) (*lrsserver.Document, error) {
		return &lrsserver.Document{ContentType: "application/json", Body: body, Updated: now}, nil
	})
}

// cmi5Refusal is a statement a cmi5 session may not send: 403 with the
// rule and what to do.
func cmi5Refusal(st *xapi.Statement, section, format string, args ...any) error {
	return &lrsserver.StatusError{Status: http.StatusForbidden,
		Err: fmt.Errorf("cmi5 (section %s): statement %s: %s", section, st.ID, fmt.Sprintf(format, args...))}
}

// admitCMI5 checks what needs a statement as the AU sent it: an id and a
// timestamp in UTC (cmi5 sections 9.1 and 9.7).
func (s *Server) admitCMI5(p *lrsserver.Principal, st *xapi.Statement, raw []byte) error {
	sess := s.session(p)
	if sess == nil || sess.cmi5 == nil {
		return nil
	}
	if st.ID == "" {
		return &lrsserver.StatusError{Status: http.StatusForbidden,
			Err: errors.New("cmi5 (section 9.1): a statement without an id: the AU must give every statement a UUID id")}
	}
	if st.Timestamp.IsZero() {
		return cmi5Refusal(st, "9.7", "it has no timestamp: the AU must timestamp every statement, in UTC")
	}
	var sent struct {
		Timestamp string `json:"timestamp"`
	}
	if json.Unmarshal(raw, &sent) != nil || !inUTC(sent.Timestamp) {
		return cmi5Refusal(st, "9.7", "its timestamp %q is not in UTC: end it with \"Z\" (or +00:00)", sent.Timestamp)
	}
	return nil
}

// inUTC reports whether the zone of ts, a valid xAPI timestamp, is UTC:
// "Z" or an offset of zero ("-00:00" is not a valid timestamp).
func inUTC(ts string) bool {
	if strings.HasSuffix(ts, "Z") || strings.HasSuffix(ts, "z") {
		return true
	}
	for _, zero := range []string{"+00:00", "+0000", "+00"} {
		if strings.HasSuffix(ts, zero) {
			return true
		}
	}
	return false
}

// checkCMI5 checks the statements of one write of a cmi5 session against
// section 9, in timestamp order, and returns the state they leave, or the
// refusal of the first one that breaks a rule (the write is all or
// nothing).
func checkCMI5(sess *session, st *cmi5State, sts []*xapi.Statement) (*cmi5State, error) {
	next := st.clone()
	ss := next.session(sess)
	order := make([]*xapi.Statement, len(sts))
	copy(order, sts)
	slices.SortStableFunc(order, func(a, b *xapi.Statement) int { return a.Timestamp.Compare(b.Timestamp) })
	for _, x := range order {
		if err := checkOne(sess, next, ss, x); err != nil {
			return nil, err
		}
		if x.Timestamp.After(ss.Last) {
			ss.Last = x.Timestamp
		}
	}
	return next, nil
}

// checkOne checks one statement and applies it to the state.
func checkOne(sess *session, reg *cmi5State, ss *cmi5SessState, x *xapi.Statement) error {
	c := sess.cmi5
	if ss.Ended != "" {
		return cmi5Refusal(x, "9.3.8", "the session was %s; statements after it are refused: launch the AU again", ss.Ended)
	}
	if x.Actor.ObjectType == xapi.ObjectTypeGroup || lrsserver.AgentKey(&x.Actor) != lrsserver.AgentKey(sess.principal.Learner) {
		return cmi5Refusal(x, "9.2", "its actor is not the agent of the launch's actor parameter; send that agent as it is")
	}
	ctx := x.Context
	if ctx == nil {
		return cmi5Refusal(x, "9.6", "it has no context: build it from the contextTemplate of LMS.LaunchData")
	}
	if !strings.EqualFold(ctx.Registration, sess.reg) {
		return cmi5Refusal(x, "9.6.1", "its context.registration is not the launch's registration %s", sess.reg)
	}
	if !extensionIs(ctx.Extensions, cmi5SessionID, c.SessionID) {
		return cmi5Refusal(x, "9.6.3.1", "its context.extensions lack the session id of LMS.LaunchData's contextTemplate")
	}
	var cats []string
	var grouped bool
	if ca := ctx.ContextActivities; ca != nil {
		for _, a := range ca.Category {
			cats = append(cats, a.ID)
		}
		for _, a := range ca.Grouping {
			grouped = grouped || a.ID == c.Settings.PublisherID
		}
	}
	defined := slices.Contains(cats, cmi5Category)
	moveOn := slices.Contains(cats, cmi5MoveOnCategory)
	if !defined {
		if moveOn {
			return cmi5Refusal(x, "9.6.2.2", "only cmi5 defined completed, passed and failed statements carry the moveOn category")
		}
		if !ss.Initialized {
			return cmi5Refusal(x, "7.1.3", "statements of a session must follow its initialized statement")
		}
		return nil
	}
	verb := x.Verb.ID
	name, ok := verbShortName[verb]
	switch {
	case slices.Contains(lmsOnlyVerbs, verb):
		return cmi5Refusal(x, "9.3", "%s statements are the LMS's to send, not the AU's", verb)
	case !ok:
		return cmi5Refusal(x, "7.1.3", "the cmi5 category marks cmi5 defined statements, whose verb must be a cmi5 verb, not %s; leave the category out of other statements", verb)
	}
	if a, isActivity := x.Object.(*xapi.Activity); !isActivity || a.ID != sess.activityID {
		return cmi5Refusal(x, "9.4", "its object must be the activity of the launch's activityId parameter %s", sess.activityID)
	}
	if !grouped {
		return cmi5Refusal(x, "9.6.2.3", "its context.contextActivities.grouping lacks the activity %s of the contextTemplate", c.Settings.PublisherID)
	}
	if verb != verbInitialized && !ss.Initialized {
		return cmi5Refusal(x, "9.3", "the first statement of a session must be initialized, not %s", name)
	}
	if slices.Contains(ss.Verbs, verb) {
		return cmi5Refusal(x, "9.3", "the session already sent %s; a cmi5 defined verb is sent once per session", name)
	}
	judged := verb == verbCompleted || verb == verbPassed || verb == verbFailed
	if judged && c.Settings.LaunchMode != launchModeNormal {
		return cmi5Refusal(x, "10", "the AU was launched in %s mode, in which it may not send %s", c.Settings.LaunchMode, name)
	}
	if judged != moveOn {
		if judged {
			return cmi5Refusal(x, "9.6.2.2", "%s statements must carry the moveOn category %s", name, cmi5MoveOnCategory)
		}
		return cmi5Refusal(x, "9.6.2.2", "only completed, passed and failed statements carry the moveOn category")
	}
	if err := checkResult(x, c.Settings, verb, name); err != nil {
		return err
	}
	if (verb == verbPassed || verb == verbFailed) && (slices.Contains(ss.Verbs, verbPassed) || slices.Contains(ss.Verbs, verbFailed)) {
		return cmi5Refusal(x, "9.3", "the session already sent passed or failed; a session sends one of them, once")
	}
	switch verb {
	case verbInitialized:
		if !ss.PrefsRead {
			return cmi5Refusal(x, "11", "the AU must read the learner preferences (agent profile %s) before it sends initialized", learnerPrefsID)
		}
		ss.Initialized = true
	case verbCompleted:
		if reg.Completed {
			return cmi5Refusal(x, "9.3", "the registration already has a completed statement for this AU; it is sent once per registration")
		}
		reg.Completed = true
	case verbPassed:
		if reg.Passed {
			return cmi5Refusal(x, "9.3", "the registration already has a passed statement for this AU; it is sent once per registration")
		}
		reg.Passed = true
	case verbFailed:
		if reg.Passed {
			return cmi5Refusal(x, "9.3", "the registration already has a passed statement for this AU, which failed may not follow")
		}
	case verbTerminated:
		ss.Ended = "terminated"
	}
	ss.Verbs = append(ss.Verbs, verb)
	return nil
}

// checkResult checks the result of a cmi5 defined statement (cmi5 section
// 9.5 and the masteryScore rules of 9.3.4, 9.3.5 and 9.6.3.2).
func checkResult(x *xapi.Statement, c CMI5Settings, verb, name string) error {
	r := x.Result
	if r == nil {
		r = &xapi.Result{}
	}
	judged := verb == verbPassed || verb == verbFailed
	if r.Score != nil && !judged {
		return cmi5Refusal(x, "9.5.1", "%s statements carry no score; only passed and failed do", name)
	}
	switch want := verb == verbPassed; {
	case judged && (r.Success == nil || *r.Success != want):
		return cmi5Refusal(x, "9.5.2", "%s statements must have result.success %v", name, want)
	case !judged && r.Success != nil:
		return cmi5Refusal(x, "9.5.2", "%s statements carry no result.success", name)
	}
	switch {
	case verb == verbCompleted && (r.Completion == nil || !*r.Completion):
		return cmi5Refusal(x, "9.5.3", "completed statements must have result.completion true")
	case verb != verbCompleted && r.Completion != nil:
		return cmi5Refusal(x, "9.5.3", "%s statements carry no result.completion; only completed does", name)
	}
	if verb != verbInitialized && r.Duration == nil {
		return cmi5Refusal(x, "9.5.4.1", "%s statements must have result.duration", name)
	}
	if sc := r.Score; sc != nil {
		if sc.Scaled != nil && (*sc.Scaled < 0 || *sc.Scaled > 1) {
			return cmi5Refusal(x, "9.5.1", "its result.score.scaled %v is not between 0 and 1", *sc.Scaled)
		}
		if sc.Raw != nil && (sc.Min == nil || sc.Max == nil) {
			return cmi5Refusal(x, "9.5.1", "a result.score.raw needs result.score.min and result.score.max")
		}
	}
	if !judged || c.MasteryScore == nil {
		return nil
	}
	// A judgement by score carries the masteryScore it was made against
	// ("required, when present and evaluated"); one without a score need
	// not, but may not carry another.
	ms := *c.MasteryScore
	var got float64
	raw, carried := x.Context.Extensions[cmi5MasteryScore]
	if (carried && (json.Unmarshal(raw, &got) != nil || got != ms)) || (!carried && r.Score != nil) {
		return cmi5Refusal(x, "9.6.3.2", "a %s statement with a score must carry the masteryScore %v of LMS.LaunchData in context.extensions[%s]", name, ms, cmi5MasteryScore)
	}
	if r.Score != nil && r.Score.Scaled != nil {
		scaled := *r.Score.Scaled
		if verb == verbPassed && scaled < ms {
			return cmi5Refusal(x, "9.3.4", "a passed statement's scaled score %v is below the masteryScore %v", scaled, ms)
		}
		if verb == verbFailed && scaled >= ms {
			return cmi5Refusal(x, "9.3.5", "a failed statement's scaled score %v is not below the masteryScore %v", scaled, ms)
		}
	}
	return nil
}

// extensionIs reports whether ext[key] is the JSON string want.
func extensionIs(ext xapi.Extensions, key, want string) bool {
	var v string
	return json.Unmarshal(ext[key], &v) == nil && v == want
}

// checkLearnerPrefs checks a cmi5LearnerPreferences document an AU writes
// (cmi5 section 11): a JSON object with a languagePreference (a comma
// separated list of RFC 5646 tags) and an audioPreference ("on" or "off").
func checkLearnerPrefs(contentType string, body []byte) error {
	if mt, _, _ := strings.Cut(contentType, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return errors.New("send it as application/json")
	}
	var prefs map[string]json.RawMessage
	if json.Unmarshal(body, &prefs) != nil || prefs == nil {
		return errors.New("it must be a JSON object")
	}
	var lang, audio string
	if json.Unmarshal(prefs["languagePreference"], &lang) != nil || lang == "" {
		return errors.New("languagePreference must be a string of language tags, for example \"en-US,fr-FR\"")
	}
	for _, tag := range strings.Split(lang, ",") {
		if !xapi.IsLanguageTag(tag) {
			return fmt.Errorf("languagePreference: %q is not an RFC 5646 language tag", tag)
		}
	}
	if json.Unmarshal(prefs["audioPreference"], &audio) != nil || (audio != "on" && audio != "off") {
		return errors.New("audioPreference must be \"on\" or \"off\"")
	}
	return nil
}

// admitCMI5Document guards the documents cmi5 gives rules to, for cmi5
// sessions: LMS.LaunchData is the LMS's, which the AU may only read
// (section 10); cmi5LearnerPreferences is read before initialized and
// written only for the launch's actor and in its documented form
// (section 11).
func (s *Server) admitCMI5Document(p *lrsserver.Principal, r lrsserver.DocumentRequest) error {
	sess := s.session(p)
	if sess == nil || sess.cmi5 == nil {
		return nil
	}
	q := r.Params
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch r.Resource {
	case lrsserver.ResState:
		all := r.Method == http.MethodDelete && !q.Has("stateId") // the set holds LMS.LaunchData
		if !read && q.Get("activityId") == sess.activityID && (q.Get("stateId") == launchDataStateID || all) {
			return errors.New("cmi5 (section 10): LMS.LaunchData belongs to the LMS; the AU may read it, not change or delete it")
		}
	case lrsserver.ResAgentProfile:
		if q.Get("profileId") != learnerPrefsID {
			return nil
		}
		a, err := lrsserver.ParseAgent(q.Get("agent"))
		if err != nil || lrsserver.AgentKey(a) != lrsserver.AgentKey(sess.principal.Learner) {
			return fmt.Errorf("cmi5 (section 11): the agent parameter of %s must be the launch's actor", learnerPrefsID)
		}
		switch {
		case read:
			if err := s.markPrefsRead(sess); err != nil {
				return &lrsserver.StatusError{Status: http.StatusServiceUnavailable, Err: fmt.Errorf("cannot keep the cmi5 session state: %w", err)}
			}
		case r.Method == http.MethodPut || r.Method == http.MethodPost:
			if err := checkLearnerPrefs(r.ContentType, r.Body); err != nil {
				return fmt.Errorf("cmi5 (section 11): %s: %v", learnerPrefsID, err)
			}
		}
	}
	return nil
}

// markPrefsRead notes that sess's AU read its learner preferences, which
// it must before it sends initialized.
func (s *Server) markPrefsRead(sess *session) error {
	ctx := context.Background()
	defer s.cmi5Locks.lock(cmi5Key(sess))()
	st, err := s.loadCMI5(ctx, sess)
	if err != nil {
		return err
	}
	ss := st.session(sess)
	if ss.PrefsRead {
		return nil
	}
	ss.PrefsRead = true
	return s.saveCMI5(ctx, sess, st)
}

// openSessions returns the cmi5 launches of sess's learner and
// registration for other AUs whose session is open.
func (s *Server) openSessions(sess *session) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	me := lrsserver.AgentKey(sess.principal.Learner)
	for _, o := range s.sessions {
		if o.cmi5 != nil && !o.ended && o.org == sess.org && o.reg == sess.reg && o.activityID != sess.activityID &&
			lrsserver.AgentKey(o.principal.Learner) == me {
			out = append(out, o)
		}
	}
	return out
}

// abandonSession abandons the cmi5 session of launch sess unless it ended.
func (s *Server) abandonSession(ctx context.Context, sess *session) error {
	defer s.cmi5Locks.lock(cmi5Key(sess))()
	st, err := s.loadCMI5(ctx, sess)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	ss := st.session(sess)
	if ss.Ended != "" {
		s.endSession(sess.cmi5.SessionID)
		return nil
	}
	if err := s.abandon(ctx, sess, sess.principal.Learner, sess.cmi5.SessionID, ss); err != nil {
		return err
	}
	if err := s.saveCMI5(ctx, sess, st); err != nil {
		return fmt.Errorf("launch: cannot keep the cmi5 session state: %w", err)
	}
	return nil
}

// ErrNoSession is returned by Abandon for an id that names no cmi5 launch
// the Server knows (unknown, expired, or a Tin Can launch).
var ErrNoSession = errors.New("launch: no cmi5 session with this launch id")

// Abandon ends the cmi5 session of the launch with id (Launch.ID) as
// abandoned, when LearningFlow knows it ended abnormally (the learner
// closed the course, an administrator resets a stuck attempt): the Server
// records the "abandoned" statement, with the time from the launch to the
// session's last statement as duration, and the credential stops working
// (cmi5 9.3.6). A session that already ended is left as it is.
func (s *Server) Abandon(ctx context.Context, id string) error {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil || sess.cmi5 == nil {
		return ErrNoSession
	}
	return s.abandonSession(ctx, sess)
}

// Waiver asks to waive an AU for a learner's registration.
type Waiver struct {
	// Org, User, ActivityID and Registration name the AU and the attempt,
	// as in a Request. Required.
	Org          string
	User         host.User
	ActivityID   string
	Registration string
	// PublisherID is the AU's id in the course structure; empty means
	// ActivityID.
	PublisherID string
	// Reason is why: "Tested Out", "Equivalent AU", "Equivalent Outside
	// Activity" or "Administrative" (cmi5 9.5.5.2).
	Reason string
}

// waiveReasons are the reasons cmi5 lists.
var waiveReasons = []string{"Tested Out", "Equivalent AU", "Equivalent Outside Activity", "Administrative"}

// ErrWaived is returned by Waive for an AU already waived in the
// registration: cmi5 waives once per registration.
var ErrWaived = errors.New("launch: the AU is already waived in this registration")

// Waive records that the AU's requirements were met by other means than
// the AU (cmi5 9.3.7): a "waived" statement with success and completion,
// the reason, and a session id of its own. Once per AU and registration.
func (s *Server) Waive(ctx context.Context, w Waiver) error {
	if w.Org == "" || w.User.ID == "" || w.ActivityID == "" || !xapi.IsUUID(w.Registration) {
		return errors.New("launch: Org, User.ID, ActivityID and a UUID Registration are required to waive an AU")
	}
	if !slices.Contains(waiveReasons, w.Reason) {
		return fmt.Errorf("launch: Reason %q is not one of %s", w.Reason, strings.Join(waiveReasons, ", "))
	}
	actor, err := s.learnerOf(w.Org, w.User)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	r := Request{ActivityID: w.ActivityID, CMI5Settings: CMI5Settings{PublisherID: w.PublisherID}}
	if err := checkCMI5Request(&r); err != nil {
		return err
	}
	sess := &session{org: w.Org, activityID: w.ActivityID, reg: strings.ToLower(w.Registration),
		principal: &lrsserver.Principal{Learner: actor},
		cmi5:      &cmi5Session{SessionID: xapi.NewUUID(), Settings: r.CMI5Settings}}
	return s.recordOnce(ctx, sess, func(st *cmi5State) *bool { return &st.Waived }, ErrWaived, func() *xapi.Statement {
		x := s.lmsStatement(sess, actor, sess.cmi5.SessionID, verbWaived, "waived", nil, s.cfg.Now().UTC())
		x.ID = xapi.MustUUIDv5(xapi.NamespaceStatement, "cmi5-waived:"+w.Org+":"+sess.reg+":"+w.ActivityID+":"+lrsserver.AgentKey(actor))
		x.Context.ContextActivities.Category = append(x.Context.ContextActivities.Category, xapi.Activity{ID: cmi5MoveOnCategory})
		yes := true
		x.Result = &xapi.Result{Success: &yes, Completion: &yes, Extensions: xapi.Extensions{cmi5Reason: mustJSON(w.Reason)}}
		return x
	})
}

// recordOnce records the LMS statement build makes for sess's activity
// and registration unless the state's mark says it was recorded (then
// done), and sets the mark.
func (s *Server) recordOnce(ctx context.Context, sess *session, mark func(*cmi5State) *bool, done error, build func() *xapi.Statement) error {
	defer s.cmi5Locks.lock(cmi5Key(sess))()
	st, err := s.loadCMI5(ctx, sess)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	if *mark(st) {
		return done
	}
	x := build()
	if err := s.h.Record(ctx, sess.org, x); err != nil {
		return fmt.Errorf("launch: cannot record the %s statement: %w", x.Verb.Display["en-US"], err)
	}
	*mark(st) = true
	if err := s.saveCMI5(ctx, sess, st); err != nil {
		return fmt.Errorf("launch: cannot keep the cmi5 state: %w", err)
	}
	return nil
}

// Satisfaction says that a learner met the moveOn criteria of every AU of
// a block or of the course, in a registration.
type Satisfaction struct {
	// Org, User and Registration name the learner and the attempt.
	// Required.
	Org          string
	User         host.User
	Registration string
	// ObjectID is LearningFlow's id of the block or the course (cmi5 9.3.9:
	// generated by the LMS, not the id in the course structure). Required.
	ObjectID string
	// Course is true for the course, false for a block.
	Course bool
	// PublisherID is the block's or the course's id in the course
	// structure, recorded as a grouping activity. Optional.
	PublisherID string
	// LaunchID is the launch whose session met the criteria (its session
	// id goes on the statement); empty when they were met outside an AU
	// session, which gets a session id of its own (9.6.1).
	LaunchID string
}

// ErrSatisfied is returned by Satisfy for a block or course already
// satisfied in the registration (cmi5 9.3.9: once).
var ErrSatisfied = errors.New("launch: the block or course is already satisfied in this registration")

// Satisfy records the "satisfied" statement of a block or the course
// (cmi5 9.3.9), once per registration. cmi5 leaves deciding when to
// LearningFlow, which knows the course structure: call it when the AUs of
// a block (or of the course) met their moveOn criteria.
func (s *Server) Satisfy(ctx context.Context, w Satisfaction) error {
	if w.Org == "" || w.User.ID == "" || !xapi.IsUUID(w.Registration) || !xapi.IsIRI(w.ObjectID) {
		return errors.New("launch: Org, User.ID, a UUID Registration and an IRI ObjectID are required to satisfy a block or course")
	}
	if w.PublisherID != "" && !xapi.IsIRI(w.PublisherID) {
		return fmt.Errorf("launch: PublisherID %q is not an absolute IRI", w.PublisherID)
	}
	actor, err := s.learnerOf(w.Org, w.User)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	sessionID := xapi.NewUUID()
	if w.LaunchID != "" {
		s.mu.Lock()
		from := s.sessions[w.LaunchID]
		s.mu.Unlock()
		if from == nil || from.cmi5 == nil || from.org != w.Org || !strings.EqualFold(from.reg, w.Registration) {
			return fmt.Errorf("%w (or not of this organization and registration)", ErrNoSession)
		}
		sessionID = from.cmi5.SessionID
	}
	kind := "block"
	if w.Course {
		kind = "course"
	}
	sess := &session{org: w.Org, activityID: w.ObjectID, reg: strings.ToLower(w.Registration),
		principal: &lrsserver.Principal{Learner: actor},
		cmi5:      &cmi5Session{SessionID: sessionID, Settings: CMI5Settings{PublisherID: w.PublisherID}}}
	return s.recordOnce(ctx, sess, func(st *cmi5State) *bool { return &st.Satisfied }, ErrSatisfied, func() *xapi.Statement {
		x := s.lmsStatement(sess, actor, sessionID, verbSatisfied, "satisfied", nil, s.cfg.Now().UTC())
		x.ID = xapi.MustUUIDv5(xapi.NamespaceStatement, "cmi5-satisfied:"+w.Org+":"+sess.reg+":"+w.ObjectID+":"+lrsserver.AgentKey(actor))
		x.Object = &xapi.Activity{ID: w.ObjectID, Definition: &xapi.ActivityDefinition{Type: "https://w3id.org/xapi/cmi5/activitytype/" + kind}}
		if w.PublisherID == "" {
			x.Context.ContextActivities.Grouping = nil
		}
		return x
	})
}

// AUProgress is where a learner stands with an AU in a registration, as
// the statements the launch endpoint accepted and recorded say.
type AUProgress struct {
	// Completed, Passed and Waived: the registration has a completed,
	// passed or waived statement for the AU.
	Completed, Passed, Waived bool
	// MoveOn is the AU's moveOn at its last launch ("" before any).
	MoveOn string
	// MoveOnMet reports whether the AU's moveOn criteria are met (cmi5
	// 13.1.4): Completed needs completed, Passed passed,
	// CompletedAndPassed both, CompletedOrPassed either, NotApplicable
	// nothing; a waived AU meets any. LearningFlow judges a block or the
	// course from its AUs' and then calls Satisfy.
	MoveOnMet bool
}

// Progress returns where user stands with the AU activityID (the id
// LearningFlow launches it with) in registration.
func (s *Server) Progress(ctx context.Context, org string, user host.User, activityID, registration string) (AUProgress, error) {
	actor, err := s.learnerOf(org, user)
	if err != nil {
		return AUProgress{}, fmt.Errorf("launch: %w", err)
	}
	sess := &session{org: org, activityID: activityID, reg: strings.ToLower(registration), principal: &lrsserver.Principal{Learner: actor}}
	st, err := s.loadCMI5(ctx, sess)
	if err != nil {
		return AUProgress{}, fmt.Errorf("launch: %w", err)
	}
	p := AUProgress{Completed: st.Completed, Passed: st.Passed, Waived: st.Waived, MoveOn: st.MoveOn}
	switch st.MoveOn {
	case "Completed":
		p.MoveOnMet = st.Completed
	case "Passed":
		p.MoveOnMet = st.Passed
	case "CompletedAndPassed":
		p.MoveOnMet = st.Completed && st.Passed
	case "CompletedOrPassed":
		p.MoveOnMet = st.Completed || st.Passed
	case "NotApplicable":
		p.MoveOnMet = true
	}
	p.MoveOnMet = p.MoveOnMet || st.Waived
	return p, nil
}
