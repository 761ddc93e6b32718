package launch

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// DefaultLifetime is how long launch credentials stay valid when
// Request.Lifetime is zero.
const DefaultLifetime = 8 * time.Hour

// DefaultKeepStatements is how long the store keeps statements when
// Config.KeepStatements is zero.
const DefaultKeepStatements = 7 * 24 * time.Hour

// Host is what the Server needs of the host; *host.Host implements it.
type Host interface {
	// RecordEvent normalizes and records an event.
	RecordEvent(ctx context.Context, ev host.Event) ([]*xapi.Statement, error)
	// Record records statements for an organization.
	Record(ctx context.Context, orgID string, statements ...*xapi.Statement) error
	// Org returns an organization's settings.
	Org(id string) (host.OrgInfo, error)
}

var _ Host = (*host.Host)(nil)

// Config configures a Server.
type Config struct {
	// Dir holds the file-backed store (statements and documents of
	// launched content, lrs.jsonl) and the launches (launches.jsonl, the
	// secrets only hashed), for example "<data_dir>/launch". Required
	// unless Store is set; with Store, launches live in memory only.
	Dir string
	// Store replaces the file-backed store (for example with a shared
	// one, or an lrsserver.MemoryStore in tests).
	Store lrsserver.Store
	// Endpoint is the public URL of the xAPI endpoint the Server answers,
	// ending in "/", for example "https://learn.acme.example/xapi/". Its
	// path is where the handler must be mounted. Required.
	Endpoint string
	// AllowOrigins are the origins content may be served from when it is
	// not the endpoint's own (CORS); "*" allows any.
	AllowOrigins []string
	// KeepStatements is how long the store keeps a statement after it was
	// stored, for content to read back; DefaultKeepStatements when zero,
	// for ever when negative. Statements are the organizations' LRSs' to
	// keep: the host recorded them for delivery before they were stored
	// here. Documents (bookmarks, suspend data, LMS.LaunchData) are kept.
	KeepStatements time.Duration
	// NoSync turns off the fsync of every store write (tests only).
	NoSync bool
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Request asks for a launch.
type Request struct {
	// Org is the organization. Required.
	Org string
	// User is the learner. Required (ID).
	User host.User
	// Course and Assignment become context activities (grouping) of the
	// package's statements. Optional.
	Course     *host.Course
	Assignment *host.Assignment
	// ActivityID is the package's activity id (from tincan.xml or the cmi5
	// course structure). Required.
	ActivityID string
	// Registration is the attempt's registration UUID; a new one when
	// empty. Relaunching with the same registration resumes the attempt.
	Registration string
	// Lifetime is how long the credential stays valid; DefaultLifetime
	// when zero.
	Lifetime time.Duration
	// CMI5 prepares a cmi5 launch: a one-time fetch URL instead of the
	// auth parameter, the LMS.LaunchData state document and the
	// "launched" statement.
	CMI5 bool
	// ReturnURL is the cmi5 returnURL in LMS.LaunchData. Optional.
	ReturnURL string
	// The AU's settings from the course structure (cmi5.xml), for cmi5
	// launches; see CMI5Settings.
	CMI5Settings
}

// Launch is what a launcher needs to start a package.
type Launch struct {
	// ID identifies the launch; it is the credential's key.
	ID string
	// Endpoint is the xAPI endpoint, ending in "/".
	Endpoint string
	// Authorization is the Authorization header value the package sends
	// (the Tin Can "auth" parameter). Keep it secret: it is the credential.
	Authorization string
	// Actor is the learner's agent as JSON.
	Actor string
	// Registration is the attempt's registration.
	Registration string
	// ActivityID is the package's activity id.
	ActivityID string
	// Expires is when the credential stops working.
	Expires time.Time
	// FetchURL is the cmi5 fetch URL (cmi5 launches only): POST to it
	// once returns {"auth-token": ...}.
	FetchURL string
	// SessionID is the cmi5 session id (cmi5 launches only).
	SessionID string
}

// TinCanURL returns the content URL with the Tin Can launch parameters:
// endpoint, auth, actor, registration and activity_id.
func (l *Launch) TinCanURL(contentURL string) string {
	q := url.Values{}
	q.Set("endpoint", l.Endpoint)
	q.Set("auth", l.Authorization)
	q.Set("actor", l.Actor)
	q.Set("registration", l.Registration)
	q.Set("activity_id", l.ActivityID)
	return withQuery(contentURL, q)
}

// CMI5URL returns the content URL with the cmi5 launch parameters:
// endpoint, fetch, actor, registration and activityId.
func (l *Launch) CMI5URL(contentURL string) string {
	q := url.Values{}
	q.Set("endpoint", l.Endpoint)
	q.Set("fetch", l.FetchURL)
	q.Set("actor", l.Actor)
	q.Set("registration", l.Registration)
	q.Set("activityId", l.ActivityID)
	return withQuery(contentURL, q)
}

func withQuery(u string, q url.Values) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// session is an issued launch.
type session struct {
	id         string
	secretHash [32]byte
	org        string
	user       host.User
	course     *host.Course
	assignment *host.Assignment
	activityID string
	reg        string
	expires    time.Time
	principal  *lrsserver.Principal
	cmi5       *cmi5Session // cmi5 launches only
	// ended is set (under Server.mu) when the cmi5 session terminated or
	// was abandoned: its credential stops working.
	ended bool
	// fetchHash is the SHA-256 of a cmi5 launch's fetch token, and
	// fetchUsed whether it was fetched: the sessions file keeps both, so
	// that the fetch URL works across a restart, once.
	fetchHash string
	fetchUsed bool
}

// Server answers the xAPI requests of launched content. It is an
// http.Handler; mount it at the path of Config.Endpoint. It is safe for
// concurrent use.
type Server struct {
	h        Host
	cfg      Config
	endpoint *url.URL
	store    lrsserver.Store
	closer   func() error
	lrs      *lrsserver.Server

	saved *sessionFile // nil without Dir

	mu       sync.Mutex
	sessions map[string]*session
	fetch    map[string]fetchToken // by token hash

	cmi5Locks cmi5Locks

	quit      chan struct{} // closed by Close: stops the sweeper
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type fetchToken struct {
	sessionID string
	auth      string
	used      bool
	expires   time.Time
}

var _ http.Handler = (*Server)(nil)

// New returns a Server that records through h.
func New(h Host, cfg Config) (*Server, error) {
	if h == nil {
		return nil, errors.New("launch: no host")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("launch: Endpoint %q is not an http(s) URL; set it to the public URL of the xAPI endpoint", cfg.Endpoint)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{h: h, cfg: cfg, endpoint: u, sessions: make(map[string]*session), fetch: make(map[string]fetchToken)}
	s.cmi5Locks.seed = maphash.MakeSeed()
	s.store, s.closer = cfg.Store, func() error { return nil }
	if s.store == nil {
		if cfg.Dir == "" {
			return nil, errors.New("launch: set Dir (the directory of the launch store) or Store")
		}
		fs, err := openFileStore(filepath.Join(cfg.Dir, "lrs.jsonl"), !cfg.NoSync)
		if err != nil {
			return nil, err
		}
		sf, saved, err := openSessionFile(filepath.Join(cfg.Dir, "launches.jsonl"), cfg.Now(), !cfg.NoSync)
		if err != nil {
			fs.Close()
			return nil, err
		}
		for _, v := range saved {
			// A launch of an organization that is gone stays unusable.
			if sess, err := restore(v, s.learnerOf); err == nil {
				s.sessions[sess.id] = sess
				if v.FetchSHA256 != "" {
					// The token's credential is minted again when it is
					// fetched: only the secret's hash was kept.
					s.fetch[v.FetchSHA256] = fetchToken{sessionID: sess.id, used: v.FetchUsed, expires: sess.expires}
				}
			}
		}
		s.store, s.saved = fs, sf
		s.closer = func() error { return errors.Join(fs.Close(), sf.Close()) }
		if err := s.restoreEnded(context.Background()); err != nil {
			_ = s.closer()
			return nil, err
		}
	}
	s.lrs = lrsserver.New(s.store, lrsserver.Options{
		BasePath:          u.Path,
		Authenticate:      s.authenticate,
		Recorder:          lrsserver.RecorderFunc(s.record),
		Admit:             s.admitCMI5,
		AdmitDocument:     s.admitCMI5Document,
		AuthorityHomePage: u.Scheme + "://" + u.Host + "/",
		AllowOrigins:      cfg.AllowOrigins,
		Now:               cfg.Now,
		MaxStatements:     500,
	})
	if cfg.KeepStatements == 0 {
		s.cfg.KeepStatements = DefaultKeepStatements
	}
	s.quit = make(chan struct{})
	if f, ok := s.store.(forgetter); ok && s.cfg.KeepStatements > 0 {
		if err := s.forgetOld(f); err != nil {
			_ = s.closer()
			return nil, err
		}
		s.wg.Add(1)
		go s.sweep(f)
	}
	return s, nil
}

// forgetter is a store that can forget old statements, as the file store
// and lrsserver.MemoryStore can.
type forgetter interface {
	ForgetStatements(before time.Time) (int, error)
}

// forgetOld forgets the statements older than Config.KeepStatements.
func (s *Server) forgetOld(f forgetter) error {
	if _, err := f.ForgetStatements(s.cfg.Now().Add(-s.cfg.KeepStatements)); err != nil {
		return fmt.Errorf("launch: cannot forget the statements older than %v: %w", s.cfg.KeepStatements, err)
	}
	return nil
}

// sweepEvery is how often the sweeper forgets old statements: a 24th of
// the keeping time, from a second to an hour.
func sweepEvery(keep time.Duration) time.Duration {
	return min(max(keep/24, time.Second), time.Hour)
}

// sweep forgets old statements every sweepEvery until Close. A failure is
// tried again at the next turn: the statements stay meanwhile.
func (s *Server) sweep(f forgetter) {
	defer s.wg.Done()
	t := time.NewTicker(sweepEvery(s.cfg.KeepStatements))
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			_ = s.forgetOld(f)
		}
	}
}

// Close closes the store. Requests after Close fail.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.quit) })
	s.wg.Wait()
	return s.closer()
}

// Launch issues the credential of one launch and returns what the launcher
// needs. For a cmi5 launch it also writes LMS.LaunchData and records the
// "launched" statement.
func (s *Server) Launch(ctx context.Context, r Request) (*Launch, error) {
	if r.Org == "" || r.User.ID == "" || r.ActivityID == "" {
		return nil, errors.New("launch: Org, User.ID and ActivityID are required")
	}
	if !xapi.IsIRI(r.ActivityID) {
		return nil, fmt.Errorf("launch: ActivityID %q is not an absolute IRI", r.ActivityID)
	}
	if r.Registration == "" {
		r.Registration = xapi.NewUUID()
	}
	if !xapi.IsUUID(r.Registration) {
		return nil, fmt.Errorf("launch: Registration %q is not a UUID", r.Registration)
	}
	r.Registration = strings.ToLower(r.Registration)
	if r.CMI5 {
		if err := checkCMI5Request(&r); err != nil {
			return nil, err
		}
	}
	info, err := s.h.Org(r.Org)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	actor, err := learner(info.Settings, r.User)
	if err != nil {
		return nil, fmt.Errorf("launch: org %s: %w", r.Org, err)
	}
	life := r.Lifetime
	if life <= 0 {
		life = DefaultLifetime
	}
	id, secret := randomHex(12), randomHex(24)
	sess := &session{
		id: id, secretHash: sha256.Sum256([]byte(secret)), org: r.Org, user: r.User, course: r.Course,
		assignment: r.Assignment, activityID: r.ActivityID, reg: r.Registration, expires: s.cfg.Now().Add(life),
	}
	sess.principal = principalFor(sess, actor)
	actorJSON, err := actorJSON(actor)
	if err != nil {
		return nil, err
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	l := &Launch{
		ID: id, Endpoint: s.endpoint.String(), Authorization: auth, Actor: actorJSON,
		Registration: r.Registration, ActivityID: r.ActivityID, Expires: sess.expires,
	}
	if r.CMI5 {
		l.SessionID = xapi.NewUUID()
		sess.cmi5 = &cmi5Session{SessionID: l.SessionID, Settings: r.CMI5Settings, Launched: s.cfg.Now().UTC()}
		if err := s.startCMI5(ctx, sess, r, actor); err != nil {
			return nil, err
		}
		token := randomHex(24)
		l.FetchURL = s.endpoint.String() + fetchPath + "?token=" + token
		s.mu.Lock()
		sess.fetchHash = hashHex(token)
		s.fetch[sess.fetchHash] = fetchToken{sessionID: id, auth: auth, expires: sess.expires}
		s.mu.Unlock()
		l.Authorization = "" // the package fetches it
	}
	if s.saved != nil {
		if err := s.saved.add(sess.saved()); err != nil {
			return nil, fmt.Errorf("launch: cannot save the launch: %w", err)
		}
	}
	s.mu.Lock()
	s.prune()
	s.sessions[id] = sess
	s.mu.Unlock()
	return l, nil
}

// principalFor is what a launch may reach: its learner and registration,
// in its organization, without voiding.
func principalFor(sess *session, learner *xapi.Actor) *lrsserver.Principal {
	return &lrsserver.Principal{
		Name: "launch-" + sess.id, Namespace: sess.org, Learner: learner, Registration: sess.reg, NoVoiding: true,
	}
}

// learnerOf builds the agent of a user of an organization.
func (s *Server) learnerOf(org string, u host.User) (*xapi.Actor, error) {
	info, err := s.h.Org(org)
	if err != nil {
		return nil, err
	}
	return learner(info.Settings, u)
}

// cmi5 IRIs.
const (
	cmi5Category      = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
	cmi5SessionID     = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
	cmi5LaunchMode    = "https://w3id.org/xapi/cmi5/context/extensions/launchmode"
	cmi5MoveOn        = "https://w3id.org/xapi/cmi5/context/extensions/moveon"
	verbLaunched      = "http://adlnet.gov/expapi/verbs/launched"
	launchDataStateID = "LMS.LaunchData"
	fetchPath         = "cmi5/fetch"
)

// startCMI5 starts the cmi5 session of sess: it abandons the sessions of
// the AU and registration that did not terminate, writes LMS.LaunchData,
// records the "launched" statement and keeps the new session's state.
func (s *Server) startCMI5(ctx context.Context, sess *session, r Request, actor *xapi.Actor) error {
	// A launch of another AU of the registration abandons the open
	// sessions of the others (cmi5 9.3.6: the LMS watches for requests of
	// the registration for a different AU). One lock at a time: the
	// locks are striped.
	for _, other := range s.openSessions(sess) {
		if err := s.abandonSession(ctx, other); err != nil {
			return err
		}
	}
	c := sess.cmi5
	key := cmi5Key(sess)
	defer s.cmi5Locks.lock(key)()
	state, err := s.loadCMI5(ctx, sess)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	for _, id := range slices.Sorted(maps.Keys(state.Sessions)) {
		if ss := state.Sessions[id]; ss.Ended == "" {
			if err := s.abandon(ctx, sess, actor, id, ss); err != nil {
				return err
			}
		}
	}
	set := c.Settings
	template := map[string]any{
		"contextActivities": map[string]any{"grouping": []any{map[string]any{"objectType": "Activity", "id": set.PublisherID}}},
		"extensions":        map[string]any{cmi5SessionID: c.SessionID},
	}
	data := map[string]any{
		"contextTemplate": template,
		"launchMode":      set.LaunchMode,
		"launchMethod":    set.LaunchMethod,
		"moveOn":          set.MoveOn,
	}
	if r.ReturnURL != "" {
		data["returnURL"] = r.ReturnURL
	}
	if set.MasteryScore != nil {
		data["masteryScore"] = *set.MasteryScore
	}
	if set.LaunchParameters != "" {
		data["launchParameters"] = set.LaunchParameters
	}
	if set.EntitlementKey != "" {
		data["entitlementKey"] = map[string]any{"courseStructure": set.EntitlementKey}
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	docKey := lrsserver.DocKey{NS: sess.org, Kind: lrsserver.KindState, ActivityID: r.ActivityID,
		Agent: lrsserver.AgentKey(actor), Registration: sess.reg, ID: launchDataStateID}
	now := s.cfg.Now().UTC()
	err = s.store.UpdateDocument(ctx, docKey, func(*lrsserver.Document) (*lrsserver.Document, error) {
		return &lrsserver.Document{ContentType: "application/json", Body: body, Updated: now}, nil
	})
	if err != nil {
		return fmt.Errorf("launch: cannot write LMS.LaunchData: %w", err)
	}
	ext := xapi.Extensions{
		cmi5SessionID:  mustJSON(c.SessionID),
		cmi5LaunchMode: mustJSON(set.LaunchMode),
		cmi5MoveOn:     mustJSON(set.MoveOn),
	}
	if set.LaunchURL != "" {
		ext[cmi5LaunchURL] = mustJSON(set.LaunchURL)
	}
	if set.MasteryScore != nil {
		ext[cmi5MasteryScore] = mustJSON(*set.MasteryScore)
	}
	if set.LaunchParameters != "" {
		ext[cmi5LaunchParameters] = mustJSON(set.LaunchParameters)
	}
	launched := s.lmsStatement(sess, actor, c.SessionID, verbLaunched, "launched", ext, now)
	launched.ID = xapi.MustUUIDv5(xapi.NamespaceStatement, "cmi5-launched:"+sess.org+":"+c.SessionID)
	if err := s.h.Record(ctx, sess.org, launched); err != nil {
		return fmt.Errorf("launch: cannot record the launched statement: %w", err)
	}
	state.session(sess) // the new session, open
	state.MoveOn = set.MoveOn
	if err := s.saveCMI5(ctx, sess, state); err != nil {
		return fmt.Errorf("launch: cannot keep the cmi5 session: %w", err)
	}
	return nil
}

// lmsStatement is a cmi5 defined statement the LMS makes for sess's AU in
// session sessionID (cmi5 sections 9.6.2.3 and 9.6.3.1).
func (s *Server) lmsStatement(sess *session, actor *xapi.Actor, sessionID, verb, display string, ext xapi.Extensions, now time.Time) *xapi.Statement {
	if ext == nil {
		ext = xapi.Extensions{}
	}
	ext[cmi5SessionID] = mustJSON(sessionID)
	return &xapi.Statement{
		Actor:  *actor,
		Verb:   xapi.Verb{ID: verb, Display: xapi.LanguageMap{"en-US": display}},
		Object: &xapi.Activity{ID: sess.activityID},
		Context: &xapi.Context{
			Registration: sess.reg,
			ContextActivities: &xapi.ContextActivities{
				Category: []xapi.Activity{{ID: cmi5Category}},
				Grouping: []xapi.Activity{{ID: sess.cmi5.Settings.PublisherID}},
			},
			Extensions: ext,
		},
		Timestamp: now.Truncate(time.Millisecond),
	}
}

// abandon records "abandoned" for session id of sess's AU and
// registration, which did not terminate (cmi5 section 9.3.6), with the
// time from its launch to its last statement as duration (9.5.4.2), and
// ends it: its credential stops working. The cmi5 lock is held.
func (s *Server) abandon(ctx context.Context, sess *session, actor *xapi.Actor, id string, ss *cmi5SessState) error {
	now := s.cfg.Now().UTC()
	d := time.Duration(0)
	if ss.Last.After(ss.Launched) {
		d = ss.Last.Sub(ss.Launched)
	}
	st := s.lmsStatement(sess, actor, id, verbAbandoned, "abandoned", nil, now)
	st.ID = xapi.MustUUIDv5(xapi.NamespaceStatement, "cmi5-abandoned:"+sess.org+":"+id)
	dur := xapi.DurationOf(d.Truncate(10 * time.Millisecond))
	st.Result = &xapi.Result{Duration: &dur}
	if err := s.h.Record(ctx, sess.org, st); err != nil {
		return fmt.Errorf("launch: cannot record the abandoned statement of session %s: %w", id, err)
	}
	ss.Ended = "abandoned"
	s.endSession(id)
	return nil
}

// endSession stops the credential of the cmi5 session id.
func (s *Server) endSession(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.sessions {
		if other.cmi5 != nil && other.cmi5.SessionID == id {
			other.ended = true
		}
	}
}

// restoreEnded marks the restored cmi5 launches whose session ended.
func (s *Server) restoreEnded(ctx context.Context) error {
	for _, sess := range s.sessions {
		if sess.cmi5 == nil {
			continue
		}
		st, err := s.loadCMI5(ctx, sess)
		if err != nil {
			return fmt.Errorf("launch: %w", err)
		}
		if ss := st.Sessions[sess.cmi5.SessionID]; ss != nil && ss.Ended != "" {
			sess.ended = true
		}
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// Values of the host's public contracts: the identity policies of an
// organization's settings and the event kind of statements content sent.
const (
	identityMbox        = "mbox"
	identityMboxSHA1Sum = "mbox_sha1sum"
	kindXAPIStatement   = "xapi.statement"
)

// learner builds the learner's agent the way the host's normalizer does,
// from the org's identity policy.
func learner(st host.OrgSettings, u host.User) (*xapi.Actor, error) {
	a := &xapi.Actor{ObjectType: xapi.ObjectTypeAgent}
	if st.SendNames {
		a.Name = u.Name
	}
	switch st.Identity {
	case identityMbox, identityMboxSHA1Sum:
		mbox := "mailto:" + u.Email
		if u.Email == "" || !xapi.IsMailto(mbox) {
			return nil, fmt.Errorf("user %s: a valid email is required by the org's %s identity policy", u.ID, st.Identity)
		}
		if st.Identity == identityMbox {
			a.Mbox = mbox
		} else {
			a.MboxSHA1Sum = xapi.MboxSHA1Sum(mbox)
		}
	default:
		a.Account = &xapi.Account{HomePage: st.BaseIRI, Name: u.ID}
	}
	return a, nil
}

// actorJSON encodes an agent through a statement, in xapi's canonical
// form.
func actorJSON(a *xapi.Actor) (string, error) {
	b, err := xapi.Marshal(&xapi.Statement{Actor: *a, Verb: xapi.Verb{ID: verbLaunched}, Object: &xapi.Activity{ID: "urn:x"}}, xapi.V200)
	if err != nil {
		return "", err
	}
	var w struct {
		Actor json.RawMessage `json:"actor"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return "", err
	}
	return string(w.Actor), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// prune forgets expired launches and fetch tokens. s.mu is held.
func (s *Server) prune() {
	now := s.cfg.Now()
	for id, sess := range s.sessions {
		if !now.Before(sess.expires) {
			delete(s.sessions, id)
		}
	}
	for k, t := range s.fetch {
		if !now.Before(t.expires) {
			delete(s.fetch, k)
		}
	}
}

// authenticate finds the launch of a request's Basic credentials.
func (s *Server) authenticate(r *http.Request) (*lrsserver.Principal, error) {
	key, secret, ok := r.BasicAuth()
	if !ok {
		return nil, fmt.Errorf("%w: send the launch's Authorization value", lrsserver.ErrUnauthorized)
	}
	s.mu.Lock()
	sess := s.sessions[key]
	var want [32]byte
	if sess != nil {
		want = sess.secretHash // a cmi5 fetch after a restart replaces it
	}
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(secret))
	if sess == nil || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
		return nil, fmt.Errorf("%w: unknown launch credential; launch the content again", lrsserver.ErrUnauthorized)
	}
	if !s.cfg.Now().Before(sess.expires) {
		return nil, fmt.Errorf("%w: the launch credential expired; launch the content again", lrsserver.ErrUnauthorized)
	}
	s.mu.Lock()
	ended := sess.ended
	s.mu.Unlock()
	if ended {
		return nil, fmt.Errorf("%w: the cmi5 session of this credential ended (terminated or abandoned); launch the content again", lrsserver.ErrUnauthorized)
	}
	return sess.principal, nil
}

func (s *Server) session(p *lrsserver.Principal) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[strings.TrimPrefix(p.Name, "launch-")]
}

// record normalizes the statements of a write through the host's
// xapi.statement rules and records them for the organization.
func (s *Server) record(ctx context.Context, p *lrsserver.Principal, sts []*xapi.Statement) ([]*xapi.Statement, error) {
	sess := s.session(p)
	if sess == nil {
		return nil, &lrsserver.StatusError{Status: http.StatusUnauthorized, Err: errors.New("the launch ended; launch the content again")}
	}
	if sess.cmi5 == nil {
		return s.recordEvent(ctx, sess, sts)
	}
	// A cmi5 session: the statements must keep section 9's rules, and the
	// state they leave is kept once they are recorded.
	defer s.cmi5Locks.lock(cmi5Key(sess))()
	state, err := s.loadCMI5(ctx, sess)
	if err != nil {
		return nil, err
	}
	next, err := checkCMI5(sess, state, sts)
	if err != nil {
		return nil, err
	}
	out, err := s.recordEvent(ctx, sess, sts)
	if err != nil {
		return nil, err
	}
	if err := s.saveCMI5(ctx, sess, next); err != nil {
		return nil, fmt.Errorf("cannot keep the cmi5 session state: %w", err)
	}
	if ss := next.Sessions[sess.cmi5.SessionID]; ss != nil && ss.Ended != "" {
		s.endSession(sess.cmi5.SessionID)
	}
	return out, nil
}

// recordEvent records the statements of a write of sess through the
// host's xapi.statement rules.
func (s *Server) recordEvent(ctx context.Context, sess *session, sts []*xapi.Statement) ([]*xapi.Statement, error) {
	raws := make([]json.RawMessage, len(sts))
	ids := make([]string, len(sts))
	for i, st := range sts {
		b, err := xapi.Marshal(st, xapi.V200)
		if err != nil {
			return nil, &lrsserver.StatusError{Status: http.StatusBadRequest, Err: err}
		}
		raws[i], ids[i] = b, st.ID
	}
	payload, err := json.Marshal(map[string]any{"statements": raws})
	if err != nil {
		return nil, err
	}
	ev := host.Event{
		ID:           "launch-" + sess.id + "-" + hashHex(strings.Join(ids, ","))[:16],
		Org:          sess.org,
		Kind:         kindXAPIStatement,
		User:         &sess.user,
		Course:       sess.course,
		Assignment:   sess.assignment,
		Registration: sess.reg,
		Payload:      payload,
	}
	out, err := s.h.RecordEvent(ctx, ev)
	var ee *host.EventError
	switch {
	case errors.As(err, &ee):
		return nil, &lrsserver.StatusError{Status: http.StatusBadRequest, Err: fmt.Errorf("%s: %v", strings.Replace(ee.Field, "payload.", "", 1), ee.Err)}
	case errors.Is(err, host.ErrFull):
		return nil, &lrsserver.StatusError{Status: http.StatusServiceUnavailable, Err: errors.New("statements cannot be queued now (queue full); retry later")}
	case errors.Is(err, host.ErrOrgUnknown):
		return nil, &lrsserver.StatusError{Status: http.StatusForbidden, Err: errors.New("the launch's organization no longer exists")}
	case errors.Is(err, host.ErrNoSinks):
		return nil, &lrsserver.StatusError{Status: http.StatusServiceUnavailable, Err: errors.New("the organization has no integration to deliver statements to; an administrator must add one")}
	case err != nil:
		return nil, err
	}
	if len(out) != len(sts) {
		return nil, fmt.Errorf("normalization returned %d statements for %d", len(out), len(sts))
	}
	return out, nil
}

// ServeHTTP answers the xAPI requests of launched content and the cmi5
// fetch URL.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == s.endpoint.Path+fetchPath {
		s.serveFetch(w, r)
		return
	}
	s.lrs.ServeHTTP(w, r)
}

// serveFetch answers the cmi5 fetch URL: the first POST returns the
// auth-token, later ones error code 1 (already used).
func (s *Server) serveFetch(w http.ResponseWriter, r *http.Request) {
	lrsserver.CORS(w, r, s.cfg.AllowOrigins)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write(cmi5Error("3", "the fetch URL takes POST"))
		return
	}
	key := hashHex(r.URL.Query().Get("token"))
	s.mu.Lock()
	t, ok := s.fetch[key]
	used := ok && t.used
	if ok && !used && s.cfg.Now().Before(t.expires) {
		t.used = true
		s.fetch[key] = t
	} else if ok && !used {
		ok = false // expired
	}
	s.mu.Unlock()
	if ok && !used {
		var err error
		if t.auth, err = s.fetched(t); err != nil {
			_, _ = w.Write(cmi5Error("3", "the launch could not be kept; launch the content again"))
			return
		}
	}
	// Errors are answers too: 200 with the error object (cmi5 section
	// 8.2.2: "the HTTP status code MUST be 200 for a valid request,
	// including one that generates an error").
	switch {
	case !ok:
		_, _ = w.Write(cmi5Error("2", "unknown or expired fetch URL; launch the content again"))
	case used:
		_, _ = w.Write(cmi5Error("1", "this fetch URL was already used; launch the content again"))
	default:
		b, _ := json.Marshal(map[string]string{"auth-token": strings.TrimPrefix(t.auth, "Basic ")})
		_, _ = w.Write(b)
	}
}

// fetched notes that the fetch token t was used, in the sessions file,
// and returns the authorization value to answer: t's, or, for a token
// kept across a restart (the secret was not kept), a new credential of
// the launch.
func (s *Server) fetched(t fetchToken) (string, error) {
	s.mu.Lock()
	sess := s.sessions[t.sessionID]
	auth := t.auth
	var saved savedSession
	if sess != nil {
		if auth == "" {
			secret := randomHex(24)
			sess.secretHash = sha256.Sum256([]byte(secret))
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(sess.id+":"+secret))
		}
		sess.fetchUsed = true
		saved = sess.saved()
	}
	s.mu.Unlock()
	switch {
	case sess == nil:
		return "", errors.New("the launch is gone")
	case s.saved == nil:
		return auth, nil
	}
	if err := s.saved.add(saved); err != nil && t.auth == "" {
		// The new secret would not survive a restart.
		return "", err
	}
	return auth, nil
}

func cmi5Error(code, text string) []byte {
	b, _ := json.Marshal(map[string]string{"error-code": code, "error-text": text})
	return b
}
