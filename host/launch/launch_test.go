package launch_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/sdk/lrsserver/lrsservertest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func newLaunch(t testing.TB, e *env, r launch.Request) *launch.Launch {
	t.Helper()
	if r.Org == "" {
		r.Org = "acme"
	}
	if r.User.ID == "" {
		r.User.ID = "u-" + xapi.NewUUID()[:8]
	}
	if r.ActivityID == "" {
		r.ActivityID = "http://example.com/activities/" + xapi.NewUUID()
	}
	l, err := e.srv.Launch(context.Background(), r)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return l
}

// TestConformance runs the LRS conformance kit against the launch
// endpoint, each subtest with its own launch (learner and registration).
func TestConformance(t *testing.T) {
	e := newEnv(t, envOptions{})
	lrsservertest.Run(t, func(t *testing.T) lrsservertest.Target {
		l := newLaunch(t, e, launch.Request{Course: &host.Course{ID: "c-1", Title: "Biology"}})
		return lrsservertest.Target{
			Endpoint: l.Endpoint, Authorization: l.Authorization, Agent: l.Actor,
			Registration: l.Registration, ActivityID: l.ActivityID, Restricted: true,
		}
	})
}

type call struct {
	method, path, body, auth, ct string
}

func do(t testing.TB, endpoint string, c call) (int, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, endpoint+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Experience-API-Version", "1.0.3")
	if c.body != "" {
		ct := c.ct
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func storylineStatement(id, actor, activity, verb string) string {
	return `{"id":"` + id + `","actor":` + actor + `,"verb":{"id":"http://adlnet.gov/expapi/verbs/` + verb + `","display":{"en-US":"` + verb + `"}},` +
		`"object":{"id":"` + activity + `/slide1","definition":{"type":"http://adlnet.gov/expapi/activities/module"}},` +
		`"context":{"contextActivities":{"parent":[{"id":"` + activity + `"}]}}}`
}

// TestStatementsReachTheHost checks that statements content sends are
// normalized (actor, registration and LearningFlow context forced) and
// delivered to the organization's integration, and that the ids answered
// are those sent.
func TestStatementsReachTheHost(t *testing.T) {
	e := newEnv(t, envOptions{})
	l := newLaunch(t, e, launch.Request{User: host.User{ID: "u-7"}, Course: &host.Course{ID: "c-1", Title: "Biology"}})
	forged := `{"objectType":"Agent","mbox":"mailto:someone.else@example.com"}`
	id1, id2 := xapi.NewUUID(), xapi.NewUUID()
	body := "[" + storylineStatement(id1, forged, l.ActivityID, "experienced") + "," + storylineStatement(id2, l.Actor, l.ActivityID, "completed") + "]"
	status, b := do(t, l.Endpoint, call{method: "POST", path: "statements", body: body, auth: l.Authorization})
	if status != http.StatusOK {
		t.Fatalf("POST statements = %d %s", status, b)
	}
	var ids []string
	_ = json.Unmarshal(b, &ids)
	if diff := cmp.Diff([]string{id1, id2}, ids); diff != "" {
		t.Errorf("answered ids (-want +got):\n%s", diff)
	}
	got := e.delivered(t)
	for _, id := range []string{id1, id2} {
		raw, ok := got[id]
		if !ok {
			t.Fatalf("statement %s did not reach the integration; delivered %d", id, len(got))
		}
		st, err := xapi.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if st.Actor.Account == nil || st.Actor.Account.Name != "u-7" || st.Context == nil || st.Context.Registration != l.Registration {
			t.Errorf("delivered statement %s: actor or registration not forced: %s", id, raw)
		}
		grouped := false
		for _, g := range st.Context.ContextActivities.Grouping {
			grouped = grouped || strings.HasSuffix(g.ID, "c-1")
		}
		if !grouped || st.Context.Platform != "LearningFlow" {
			t.Errorf("delivered statement %s lacks LearningFlow's context: %s", id, raw)
		}
	}
	// A resend of the same statements is accepted and delivered once.
	status, _ = do(t, l.Endpoint, call{method: "POST", path: "statements", body: body, auth: l.Authorization})
	if status != http.StatusOK {
		t.Errorf("resend = %d, want 200", status)
	}
	if n := len(e.delivered(t)); n != 2 {
		t.Errorf("delivered %d statements after a resend, want 2", n)
	}
}

// TestRefusals checks that refused requests store and record nothing.
func TestRefusals(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, envOptions{now: clock})
	l := newLaunch(t, e, launch.Request{Lifetime: time.Hour})
	other := newLaunch(t, e, launch.Request{})
	good := storylineStatement(xapi.NewUUID(), l.Actor, l.ActivityID, "experienced")
	tests := []struct {
		name   string
		c      call
		status int
	}{
		{"no credentials", call{method: "POST", path: "statements", body: good}, 401},
		{"wrong secret", call{method: "POST", path: "statements", body: good, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(l.ID+":nope"))}, 401},
		{"voiding", call{method: "POST", path: "statements", auth: l.Authorization, body: `{"actor":` + l.Actor + `,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + xapi.NewUUID() + `"}}`}, 403},
		{"other learner's state", call{method: "PUT", path: "activities/state?activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(other.Actor) + "&registration=" + l.Registration + "&stateId=bookmark", body: "x", ct: "text/plain", auth: l.Authorization}, 403},
		{"other registration's state", call{method: "PUT", path: "activities/state?activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(l.Actor) + "&registration=" + other.Registration + "&stateId=bookmark", body: "x", ct: "text/plain", auth: l.Authorization}, 403},
		{"oversized batch", call{method: "POST", path: "statements", auth: l.Authorization, body: "[" + strings.Repeat(good+",", 500) + good + "]"}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := do(t, l.Endpoint, tt.c)
			if status != tt.status {
				t.Errorf("%s %s = %d %s, want %d", tt.c.method, tt.c.path, status, b, tt.status)
			}
		})
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if status, _ := do(t, l.Endpoint, call{method: "POST", path: "statements", body: good, auth: l.Authorization}); status != 401 {
		t.Errorf("expired credential: status %d, want 401", status)
	}
	if n := len(e.delivered(t)); n != 0 {
		t.Errorf("refused requests delivered %d statements, want 0", n)
	}
}

// TestIsolation lets credentials of learner A / registration A try, in a
// random order and with random verbs, to read and write the state, agent
// profiles and statements of B: no attempt may succeed or see B's data.
func TestIsolation(t *testing.T) {
	e := newEnv(t, envOptions{})
	activity := "http://example.com/activities/shared-course"
	a := newLaunch(t, e, launch.Request{User: host.User{ID: "learner-a"}, ActivityID: activity})
	b := newLaunch(t, e, launch.Request{User: host.User{ID: "learner-b"}, ActivityID: activity})
	aOtherReg := newLaunch(t, e, launch.Request{User: host.User{ID: "learner-a"}, ActivityID: activity}) // A, another attempt
	// B in A's registration (a shared registration must not let A see B).
	bSameReg := newLaunch(t, e, launch.Request{User: host.User{ID: "learner-b"}, ActivityID: activity, Registration: a.Registration})
	secretID, secretID2 := xapi.NewUUID(), xapi.NewUUID()
	mustStatus(t, b.Endpoint, call{method: "POST", path: "statements", auth: b.Authorization, body: storylineStatement(secretID, b.Actor, activity, "completed")}, 200)
	mustStatus(t, bSameReg.Endpoint, call{method: "POST", path: "statements", auth: bSameReg.Authorization, body: storylineStatement(secretID2, b.Actor, activity, "passed")}, 200)
	stateB := "activities/state?activityId=" + url.QueryEscape(activity) + "&agent=" + url.QueryEscape(b.Actor) + "&registration=" + b.Registration + "&stateId=bookmark"
	mustStatus(t, b.Endpoint, call{method: "PUT", path: stateB, auth: b.Authorization, body: "b-secret-bookmark", ct: "text/plain"}, 204)
	profileB := "agents/profile?agent=" + url.QueryEscape(b.Actor) + "&profileId=prefs"
	mustStatus(t, b.Endpoint, call{method: "PUT", path: profileB, auth: b.Authorization, body: `{"b":"secret"}`}, 204)

	attempts := []call{
		{method: "GET", path: stateB},
		{method: "PUT", path: stateB, body: "overwritten", ct: "text/plain"},
		{method: "POST", path: stateB, body: `{"x":1}`},
		{method: "DELETE", path: stateB},
		{method: "GET", path: "activities/state?activityId=" + url.QueryEscape(activity) + "&agent=" + url.QueryEscape(b.Actor) + "&registration=" + b.Registration},
		{method: "DELETE", path: "activities/state?activityId=" + url.QueryEscape(activity) + "&agent=" + url.QueryEscape(b.Actor)},
		{method: "GET", path: "activities/state?activityId=" + url.QueryEscape(activity) + "&agent=" + url.QueryEscape(a.Actor) + "&registration=" + b.Registration + "&stateId=bookmark"},
		{method: "GET", path: profileB},
		{method: "PUT", path: profileB, body: `{}`},
		{method: "DELETE", path: profileB},
		{method: "GET", path: "agents?agent=" + url.QueryEscape(b.Actor)},
		{method: "GET", path: "statements?statementId=" + secretID},
		{method: "GET", path: "statements?statementId=" + secretID2},
		{method: "GET", path: "statements?voidedStatementId=" + secretID2},
		{method: "PUT", path: "activities/profile?activityId=" + url.QueryEscape(activity) + "&profileId=shared", body: `{}`},
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	creds := []*launch.Launch{a, aOtherReg}
	successes := 0
	for i := 0; i < 200; i++ {
		c := attempts[rng.IntN(len(attempts))]
		cred := creds[rng.IntN(len(creds))]
		c.auth = cred.Authorization
		status, body := do(t, cred.Endpoint, c)
		if status < 300 {
			successes++
			t.Errorf("attempt %d: %s %s with A's credential = %d %s", i, c.method, c.path, status, body)
		}
		// Queries succeed but must not show B's statement.
		status, body = do(t, cred.Endpoint, call{method: "GET", path: "statements?activity=" + url.QueryEscape(activity+"/slide1"), auth: cred.Authorization})
		if status != 200 || strings.Contains(string(body), secretID) || strings.Contains(string(body), secretID2) || strings.Contains(string(body), "learner-b") {
			successes++
			t.Errorf("attempt %d: A's query = %d and shows B's data: %s", i, status, body)
		}
	}
	if successes != 0 {
		t.Errorf("%d successes, want 0", successes)
	}
	status, body := do(t, b.Endpoint, call{method: "GET", path: stateB, auth: b.Authorization})
	if status != 200 || string(body) != "b-secret-bookmark" {
		t.Errorf("B's bookmark after the attempts = %d %q", status, body)
	}
}

func mustStatus(t testing.TB, endpoint string, c call, want int) []byte {
	t.Helper()
	status, b := do(t, endpoint, c)
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, status, b, want)
	}
	return b
}

// TestCMI5 checks the fetch URL exchange, LMS.LaunchData and the launched
// statement.
func TestCMI5(t *testing.T) {
	e := newEnv(t, envOptions{})
	l := newLaunch(t, e, launch.Request{CMI5: true, ReturnURL: "https://learn.acme.example/course/1"})
	if l.Authorization != "" || l.FetchURL == "" {
		t.Fatalf("cmi5 launch = auth %q fetch %q, want only a fetch URL", l.Authorization, l.FetchURL)
	}
	u, err := url.Parse(l.CMI5URL("https://content.example/au/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("endpoint") != l.Endpoint || q.Get("fetch") != l.FetchURL || q.Get("registration") != l.Registration || q.Get("activityId") != l.ActivityID || q.Get("actor") != l.Actor {
		t.Errorf("cmi5 launch URL %s lacks a parameter", u)
	}
	fetch := func() (int, map[string]string) {
		resp, err := testClient.Post(l.FetchURL, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	pre, _ := http.NewRequest(http.MethodOptions, l.FetchURL, nil)
	pre.Header.Set("Origin", "https://content.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	presp, err := testClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusNoContent || presp.Header.Get("Access-Control-Allow-Origin") != "https://content.example" {
		t.Errorf("fetch URL preflight = %d, Access-Control-Allow-Origin %q", presp.StatusCode, presp.Header.Get("Access-Control-Allow-Origin"))
	}
	status, m := fetch()
	if status != 200 || m["auth-token"] == "" {
		t.Fatalf("first fetch = %d %v", status, m)
	}
	auth := "Basic " + m["auth-token"]
	// cmi5 section 8.2.2: an error is a 200 answer with the error object.
	status, m = fetch()
	if status != 200 || m["error-code"] != "1" || m["auth-token"] != "" {
		t.Errorf("second fetch = %d %v, want 200 with error-code 1 and no auth-token", status, m)
	}
	state := "activities/state?activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(l.Actor) + "&registration=" + l.Registration + "&stateId=LMS.LaunchData"
	body := mustStatus(t, l.Endpoint, call{method: "GET", path: state, auth: auth}, 200)
	var ld struct {
		LaunchMode      string `json:"launchMode"`
		ReturnURL       string `json:"returnURL"`
		ContextTemplate struct {
			Extensions map[string]string `json:"extensions"`
		} `json:"contextTemplate"`
	}
	if err := json.Unmarshal(body, &ld); err != nil {
		t.Fatal(err)
	}
	if ld.LaunchMode != "Normal" || ld.ReturnURL == "" || ld.ContextTemplate.Extensions["https://w3id.org/xapi/cmi5/context/extensions/sessionid"] != l.SessionID {
		t.Errorf("LMS.LaunchData = %s", body)
	}
	found := false
	for _, raw := range e.delivered(t) {
		found = found || strings.Contains(string(raw), "verbs/launched") && strings.Contains(string(raw), l.SessionID)
	}
	if !found {
		t.Error("the launched statement was not delivered")
	}
}

// TestStorePersists checks that state, statements and launches survive a
// restart of the launch Server over the same directory: the credential
// issued before the restart still works after it.
func TestStorePersists(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, envOptions{dir: dir, sync: "always"})
	l := newLaunch(t, e, launch.Request{})
	state := "activities/state?activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(l.Actor) + "&registration=" + l.Registration + "&stateId=bookmark"
	mustStatus(t, l.Endpoint, call{method: "PUT", path: state, body: "slide-4", ct: "text/plain", auth: l.Authorization}, 204)
	id := xapi.NewUUID()
	mustStatus(t, l.Endpoint, call{method: "POST", path: "statements", body: storylineStatement(id, l.Actor, l.ActivityID, "experienced"), auth: l.Authorization}, 200)
	_ = e.srv.Close()

	e2 := newEnv(t, envOptions{dir: dir})
	body := mustStatus(t, e2.endpoint, call{method: "GET", path: state, auth: l.Authorization}, 200)
	if string(body) != "slide-4" {
		t.Errorf("bookmark after restart = %q, want slide-4", body)
	}
	mustStatus(t, e2.endpoint, call{method: "GET", path: "statements?statementId=" + id, auth: l.Authorization}, 200)
	other := newLaunch(t, e2, launch.Request{})
	mustStatus(t, e2.endpoint, call{method: "GET", path: "statements?statementId=" + id, auth: other.Authorization}, 404)
}

// TestIdentityPolicies checks that the launch's actor is the one the host's
// normalizer puts on statements, for every identity policy: the content
// reads back what it sent only when both agree.
func TestIdentityPolicies(t *testing.T) {
	for _, policy := range []string{"account", "mbox", "mbox_sha1sum"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, envOptions{identity: policy})
			l := newLaunch(t, e, launch.Request{User: host.User{ID: "u-9", Email: "jane.doe@acme.example"}})
			id := xapi.NewUUID()
			mustStatus(t, l.Endpoint, call{method: "POST", path: "statements", auth: l.Authorization, body: storylineStatement(id, l.Actor, l.ActivityID, "experienced")}, 200)
			mustStatus(t, l.Endpoint, call{method: "GET", path: "statements?statementId=" + id, auth: l.Authorization}, 200)
			raw, ok := e.delivered(t)[id]
			if !ok {
				t.Fatalf("statement %s not delivered", id)
			}
			var got struct{ Actor json.RawMessage }
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			var want, have any
			_ = json.Unmarshal([]byte(l.Actor), &want)
			_ = json.Unmarshal(got.Actor, &have)
			if diff := cmp.Diff(want, have); diff != "" {
				t.Errorf("delivered actor differs from the launch's actor (-want +got):\n%s", diff)
			}
		})
	}
}

// testClient sends the tests' requests over a transport of its own: test
// servers closing in parallel tests close http.DefaultTransport's idle
// connections, which fails a POST that was about to reuse one.
var testClient = &http.Client{Transport: &http.Transport{}}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestStatementsAreKeptForKeepStatements checks that the store forgets a
// statement once it is older than Config.KeepStatements, while it runs and
// across a restart, and keeps the documents and the newer statements.
func TestStatementsAreKeptForKeepStatements(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Now().UTC().Truncate(time.Millisecond)}
	const keep = 12 * time.Second // swept every sweepEvery(keep): a second
	e := newEnv(t, envOptions{dir: dir, now: clock.Now, keep: keep})
	l := newLaunch(t, e, launch.Request{Lifetime: 24 * time.Hour})
	old := xapi.NewUUID()
	mustStatus(t, l.Endpoint, call{method: "POST", path: "statements", body: storylineStatement(old, l.Actor, l.ActivityID, "experienced"), auth: l.Authorization}, 200)
	state := "activities/state?activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(l.Actor) + "&registration=" + l.Registration + "&stateId=bookmark"
	mustStatus(t, l.Endpoint, call{method: "PUT", path: state, body: "slide-4", ct: "text/plain", auth: l.Authorization}, 204)
	clock.Add(keep + time.Minute)
	recent := xapi.NewUUID()
	mustStatus(t, l.Endpoint, call{method: "POST", path: "statements", body: storylineStatement(recent, l.Actor, l.ActivityID, "experienced"), auth: l.Authorization}, 200)
	deadline := time.Now().Add(time.Minute)
	for {
		s, _ := do(t, l.Endpoint, call{method: "GET", path: "statements?statementId=" + old, auth: l.Authorization})
		if s == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a statement older than KeepStatements is still there after a minute (%d)", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustStatus(t, l.Endpoint, call{method: "GET", path: "statements?statementId=" + recent, auth: l.Authorization}, 200)
	mustStatus(t, l.Endpoint, call{method: "GET", path: state, auth: l.Authorization}, 200)
	_ = e.srv.Close()

	e2 := newEnv(t, envOptions{dir: dir, now: clock.Now, keep: keep})
	mustStatus(t, e2.endpoint, call{method: "GET", path: "statements?statementId=" + old, auth: l.Authorization}, 404)
	mustStatus(t, e2.endpoint, call{method: "GET", path: "statements?statementId=" + recent, auth: l.Authorization}, 200)
	if body := mustStatus(t, e2.endpoint, call{method: "GET", path: state, auth: l.Authorization}, 200); string(body) != "slide-4" {
		t.Errorf("bookmark after restart = %q", body)
	}
}
