package normalize

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Verb, activity type and extension IRIs used by the normalizers.
const (
	adlVerbs = "http://adlnet.gov/expapi/verbs/"
	adlTypes = "http://adlnet.gov/expapi/activities/"

	typeCourse      = adlTypes + "course"
	typeLesson      = adlTypes + "lesson"
	typeAttempt     = adlTypes + "attempt"
	typeAssessment  = adlTypes + "assessment"
	typeInteraction = adlTypes + "cmi.interaction"
	typeProfile     = adlTypes + "profile"
	typeChatMessage = "http://id.tincanapi.com/activitytype/chat-message"
	typeChatChannel = "http://id.tincanapi.com/activitytype/chat-channel"

	scormProfile = "https://w3id.org/xapi/scorm"
)

// futureSkew is how far in the future an event time may lie, to absorb clock
// differences between LearningFlow and the host.
const futureSkew = 5 * time.Minute

// Normalizer turns LearningFlow events into xAPI statements. It is safe for
// concurrent use; SCORM events of one attempt are serialised so that their
// state stays consistent.
type Normalizer struct {
	state StateStore
	now   func() time.Time

	mu    sync.Mutex
	locks map[string]*attemptLock
}

// attemptLock serialises the SCORM events of one attempt; refs counts the
// callers holding or waiting for it, so that it can be dropped when unused.
type attemptLock struct {
	mu   sync.Mutex
	refs int
}

// New returns a Normalizer that keeps SCORM state in state and reads the
// arrival time of events from now. A nil now means time.Now. A nil state
// keeps SCORM state in memory (see NewMemoryState).
func New(state StateStore, now func() time.Time) *Normalizer {
	if state == nil {
		state = NewMemoryState()
	}
	if now == nil {
		now = time.Now
	}
	return &Normalizer{state: state, now: now, locks: make(map[string]*attemptLock)}
}

// lock takes the lock of key and returns its release function.
func (n *Normalizer) lock(key string) (unlock func()) {
	n.mu.Lock()
	l := n.locks[key]
	if l == nil {
		l = new(attemptLock)
		n.locks[key] = l
	}
	l.refs++
	n.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		n.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(n.locks, key)
		}
		n.mu.Unlock()
	}
}

// Normalize turns ev into the statements of the org whose settings are s,
// and saves the SCORM attempt state it changes: it is [Normalizer.Prepare]
// followed by [Prepared.Commit]. A caller that queues the statements must
// use Prepare instead, so that the state is saved only once they are queued.
//
// Every statement is validated for both xAPI 1.0.3 and 2.0.0. If ev is not
// valid, its kind is unknown, or any statement it yields fails validation,
// Normalize returns an *EventError and no statements. An event may
// legitimately yield no statements (an H5P toolbar verb, a SCORM commit that
// changes nothing reportable, a SCORM call re-sent after it was handled).
//
// Statements come in the order they happened, with deterministic ids and
// content (see the package documentation). An error of the StateStore is
// returned wrapped and is not an *EventError: the event itself may be fine.
// An invalid s is an error wrapping ErrSettings.
func (n *Normalizer) Normalize(ctx context.Context, s Settings, ev Event) ([]*xapi.Statement, error) {
	p, err := n.Prepare(ctx, s, ev)
	if err != nil {
		return nil, err
	}
	if err := p.Commit(ctx); err != nil {
		return nil, err
	}
	return p.Statements, nil
}

// Prepared is a normalized event whose SCORM attempt state change is not
// saved yet. The caller queues Statements, then calls Commit if that
// succeeded or Abort if it did not, so that state and queue change together:
// an aborted call leaves the attempt as it was, and the same call re-sent
// later yields its statements again, whatever calls came in between.
//
// Until Commit or Abort, the SCORM calls of the same attempt wait (they are
// serialised); exactly one of them must be called, once. Other kinds have no
// state: Commit and Abort only release them.
type Prepared struct {
	// Statements are the event's statements, validated, in order.
	Statements []*xapi.Statement
	// Repairs lists the invalid optional properties that were repaired or
	// dropped so that the statements could be kept (see the package
	// documentation), for the caller to count and log.
	Repairs []Repair

	save   func(context.Context) error // nil: nothing to save
	unlock func()                      // nil: nothing to release
	done   bool
}

// Commit saves the attempt state the event changed, if any, and releases
// the attempt. An error of the StateStore is returned wrapped; the attempt
// is then as it was before the event.
func (p *Prepared) Commit(ctx context.Context) error {
	if p.done {
		return errors.New("normalize: prepared event already committed or aborted")
	}
	p.done = true
	if p.unlock != nil {
		defer p.unlock()
	}
	if p.save == nil {
		return nil
	}
	return p.save(ctx)
}

// Abort releases the attempt without saving its state: the event counts as
// never handled. Calling Abort after Commit does nothing.
func (p *Prepared) Abort() {
	if p.done {
		return
	}
	p.done = true
	if p.unlock != nil {
		p.unlock()
	}
}

// Prepare turns ev into the statements of the org whose settings are s,
// like Normalize, but does not save the SCORM attempt state: the returned
// Prepared does, on Commit. See Normalize for errors.
func (n *Normalizer) Prepare(ctx context.Context, s Settings, ev Event) (*Prepared, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("normalize: %w", err)
	}
	j, err := n.newJob(s.resolved(), &ev)
	if err != nil {
		return nil, err
	}
	var outs []out
	var finish scormFinish
	var unlock func()
	switch ev.Kind {
	case KindH5PStatement:
		outs, err = j.h5p()
	case KindXAPIStatement:
		outs, err = j.xapiStatements()
	case KindSCORMRuntime:
		outs, finish, unlock, err = j.scorm(ctx)
	case KindChatMessage:
		outs, err = j.chatMessage()
	case KindChatReply:
		outs, err = j.chatReply()
	case KindChatFeedback:
		outs, err = j.chatFeedback()
	case KindQuizCompleted:
		outs, err = j.quiz()
	}
	if err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, err
	}
	sts := make([]*xapi.Statement, len(outs))
	for i, o := range outs {
		st := o.st
		if st.ID == "" {
			st.ID = j.statementID(i)
		}
		for _, v := range [...]xapi.Version{xapi.V103, xapi.V200} {
			if probs := deliverable(xapi.Validate(st, v), v); len(probs) > 0 {
				if unlock != nil {
					unlock()
				}
				return nil, j.problems(o.field, i, v, probs)
			}
		}
		sts[i] = st
	}
	var save func(context.Context) error
	if finish != nil {
		if save, err = finish(sts); err != nil {
			unlock()
			return nil, err
		}
	}
	return &Prepared{Statements: sts, Repairs: j.repairs, save: save, unlock: unlock}, nil
}

// out is one statement a kind produced, with the event field it was read
// from when it is passed through (an H5P or package statement), so that a
// validation problem can be reported against the event.
type out struct {
	st    *xapi.Statement
	field string
}

// job holds what every normalizer needs about one event.
type job struct {
	s   Settings
	ev  *Event
	n   *Normalizer
	now time.Time
	// at is the time of the event: its own time, or the arrival time.
	at time.Time
	// hasTime reports whether the event carried its own time.
	hasTime      bool
	registration string
	lang         string
	// grouping holds the course and assignment activities, if any.
	grouping []xapi.Activity
	// repairs lists the invalid optional properties repaired or dropped.
	repairs []Repair
}

// fail returns an InvalidEvent error for field.
func (j *job) fail(field, format string, args ...any) error {
	return &EventError{EventID: j.ev.ID, Kind: InvalidEvent, Field: field, Err: fmt.Errorf(format, args...)}
}

// failErr returns an InvalidEvent error for field wrapping err.
func (j *job) failErr(field string, err error) error {
	return &EventError{EventID: j.ev.ID, Kind: InvalidEvent, Field: field, Err: err}
}

// problems turns validation problems of statement i into an EventError. For
// a passed-through statement the first problem's path is joined to the
// event field the statement came from.
func (j *job) problems(field string, i int, v xapi.Version, probs xapi.Problems) error {
	f := "payload"
	if field != "" {
		f = field
		if probs[0].Path != "" {
			f += "." + probs[0].Path
		}
	}
	return &EventError{EventID: j.ev.ID, Kind: InvalidEvent, Field: f,
		Err: fmt.Errorf("statement %d is not valid xapi %s: %w", i, v, probs)}
}

// newJob checks the envelope and derives what every kind shares.
func (n *Normalizer) newJob(s Settings, ev *Event) (*job, error) {
	j := &job{s: s, ev: ev, n: n, now: n.now().UTC()}
	if ev.ID == "" {
		return nil, j.fail("id", "required")
	}
	if err := checkName(ev.ID); err != nil {
		return nil, j.failErr("id", err)
	}
	if ev.Org == "" {
		return nil, j.fail("org", "required")
	}
	if err := checkName(ev.Org); err != nil {
		return nil, j.failErr("org", err)
	}
	switch ev.Kind {
	case KindH5PStatement, KindXAPIStatement, KindSCORMRuntime, KindChatMessage, KindChatReply, KindChatFeedback, KindQuizCompleted:
	case "":
		return nil, j.fail("kind", "required")
	default:
		return nil, &EventError{EventID: ev.ID, Kind: UnknownKind, Field: "kind",
			Err: fmt.Errorf("%w %s", ErrUnknownKind, strconv.Quote(clip(ev.Kind)))}
	}
	j.at = j.now
	if ev.Time != "" {
		t, err := xapi.ParseTimestamp(ev.Time)
		if err != nil {
			return nil, j.failErr("time", err)
		}
		if t.After(j.now.Add(futureSkew)) {
			return nil, j.fail("time", "%s lies in the future", xapi.FormatTimestamp(t))
		}
		j.at, j.hasTime = t, true
	}
	j.at = j.at.Truncate(time.Millisecond)
	if ev.User == nil {
		if ev.Kind != KindChatReply {
			return nil, j.fail("user", "required")
		}
	} else {
		if ev.User.ID == "" {
			return nil, j.fail("user.id", "required")
		}
		if err := checkName(ev.User.ID); err != nil {
			return nil, j.failErr("user.id", err)
		}
	}
	if c := ev.Course; c != nil {
		if c.ID == "" {
			return nil, j.fail("course.id", "required")
		}
		if err := checkName(c.ID); err != nil {
			return nil, j.failErr("course.id", err)
		}
		if c.Lang != "" {
			if !xapi.IsLanguageTag(c.Lang) {
				return nil, j.fail("course.lang", "%s is not an RFC 5646 language tag", strconv.Quote(clip(c.Lang)))
			}
			j.lang = c.Lang
		}
		j.grouping = append(j.grouping, xapi.Activity{
			ID:         j.iri("courses", c.ID),
			Definition: &xapi.ActivityDefinition{Name: j.text(c.Title), Type: typeCourse},
		})
	}
	if a := ev.Assignment; a != nil {
		if a.ID == "" {
			return nil, j.fail("assignment.id", "required")
		}
		if err := checkName(a.ID); err != nil {
			return nil, j.failErr("assignment.id", err)
		}
		act := xapi.Activity{ID: j.iri("assignments", a.ID)}
		if a.Title != "" {
			act.Definition = &xapi.ActivityDefinition{Name: j.text(a.Title)}
		}
		j.grouping = append(j.grouping, act)
	}
	if ev.Registration != "" {
		if !xapi.IsUUID(ev.Registration) {
			return nil, j.fail("registration", "%s is not a UUID", strconv.Quote(clip(ev.Registration)))
		}
		j.registration = strings.ToLower(ev.Registration)
	} else if ev.User != nil {
		// Without a user (a chat reply may come without one) no
		// registration is derived: it would not match the learner's.
		var assignment string
		if ev.Assignment != nil {
			assignment = ev.Assignment.ID
		}
		j.registration = j.uuid("registration", ev.Org, ev.User.ID, assignment)
	}
	if len(ev.Payload) == 0 || string(ev.Payload) == "null" {
		return nil, j.fail("payload", "required")
	}
	return j, nil
}

// maxIDLength bounds the LearningFlow ids that seed statement ids and
// name state (event, org, user, course, assignment, package, SCO, attempt,
// quiz, question, conversation and message ids), in bytes.
const maxIDLength = 256

// checkName refuses the NUL character in the strings that seed ids, where
// it separates parts, and ids longer than maxIDLength.
func checkName(s string) error {
	if len(s) > maxIDLength {
		return fmt.Errorf("is %d bytes long, more than the %d allowed for an id", len(s), maxIDLength)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("contains a NUL character")
	}
	return nil
}

// uuid returns the UUIDv5 in the statement namespace of the parts joined by
// NUL characters.
func (j *job) uuid(parts ...string) string {
	return xapi.MustUUIDv5(xapi.NamespaceStatement, strings.Join(parts, "\x00"))
}

// statementID returns the id of the statement at position i of the event.
func (j *job) statementID(i int) string {
	return j.uuid(j.ev.Org, j.ev.ID, strconv.Itoa(i))
}

// iri returns the base IRI followed by the path segments, each escaped.
func (j *job) iri(segments ...string) string {
	var b strings.Builder
	b.WriteString(j.s.BaseIRI)
	for _, seg := range segments {
		b.WriteByte('/')
		b.WriteString(pathEscape(seg))
	}
	return b.String()
}

// pathEscape escapes s as one path segment of an IRI.
func pathEscape(s string) string { return url.PathEscape(s) }

// text returns a language map holding s in the course language ("und" when
// the course has none), or nil when s is empty.
func (j *job) text(s string) xapi.LanguageMap {
	if s == "" {
		return nil
	}
	lang := j.lang
	if lang == "" {
		lang = "und"
	}
	return xapi.LanguageMap{lang: s}
}

// learner returns the actor for the event's user under the identity policy.
func (j *job) learner() (xapi.Actor, error) {
	u := j.ev.User
	a := xapi.Actor{ObjectType: xapi.ObjectTypeAgent}
	if j.s.SendNames {
		a.Name = u.Name
	}
	switch j.s.Identity {
	case IdentityMbox, IdentityMboxSHA1Sum:
		mbox := "mailto:" + u.Email
		if u.Email == "" {
			return a, j.fail("user.email", "required by the org's %s identity policy", j.s.Identity)
		}
		if !xapi.IsMailto(mbox) {
			return a, j.fail("user.email", "not a valid email address (required by the org's %s identity policy)", j.s.Identity)
		}
		if j.s.Identity == IdentityMbox {
			a.Mbox = mbox
		} else {
			a.MboxSHA1Sum = xapi.MboxSHA1Sum(mbox)
		}
	default:
		a.Account = &xapi.Account{HomePage: j.s.BaseIRI, Name: u.ID}
	}
	return a, nil
}

// verb returns the verb with id adlVerbs+word and an en-US display.
func verb(word string) xapi.Verb {
	return xapi.Verb{ID: adlVerbs + word, Display: xapi.LanguageMap{"en-US": word}}
}

// context returns a context with the registration, the course language and,
// for an activity object, the platform. Its grouping holds the course and
// the assignment followed by extra.
func (j *job) context(activityObject bool, extra ...xapi.Activity) *xapi.Context {
	c := &xapi.Context{Registration: j.registration, Language: j.lang}
	if activityObject {
		c.Platform = j.s.Platform
	}
	if g := j.groupingWith(extra...); len(g) > 0 {
		c.ContextActivities = &xapi.ContextActivities{Grouping: g}
	}
	return c
}

// groupingWith returns a fresh slice of the course and assignment activities
// followed by extra.
func (j *job) groupingWith(extra ...xapi.Activity) []xapi.Activity {
	if len(j.grouping)+len(extra) == 0 {
		return nil
	}
	g := make([]xapi.Activity, 0, len(j.grouping)+len(extra))
	g = append(g, j.grouping...)
	return append(g, extra...)
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// deliverable drops the problems that encoding for v resolves by itself:
// for 1.0.3, properties only xAPI 2.0 defines (contextAgents,
// contextGroups) and a 2.0 version property are left out of the encoding,
// so a statement that uses them is still deliverable to a 1.0.3 LRS.
func deliverable(probs xapi.Problems, v xapi.Version) xapi.Problems {
	if v != xapi.V103 || len(probs) == 0 {
		return probs
	}
	out := probs[:0:0]
	for _, p := range probs {
		if p.Rule != xapi.RuleNotInVersion && p.Rule != xapi.RuleVersion {
			out = append(out, p)
		}
	}
	return out
}
