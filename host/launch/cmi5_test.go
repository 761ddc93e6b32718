package launch_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// cmi5 IRIs the tests write statements with.
const (
	cmi5Cat    = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
	moveOnCat  = "https://w3id.org/xapi/cmi5/context/categories/moveon"
	sessionExt = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
	masteryExt = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
	verbs      = "http://adlnet.gov/expapi/verbs/"
	prefsPath  = "agents/profile?profileId=cmi5LearnerPreferences&agent="
)

// au plays an assignable unit of a cmi5 launch: it holds the token from
// the fetch URL and the contextTemplate of LMS.LaunchData, and builds
// statements as a conformant AU does.
type au struct {
	t          testing.TB
	l          *launch.Launch
	auth       string
	publisher  string
	mastery    *float64
	clock      time.Time
	launchData map[string]any
}

// startAU launches r as cmi5, fetches the token, reads LMS.LaunchData and
// (unless skipPrefs) the learner preferences, as an AU starts.
func startAU(t testing.TB, e *env, r launch.Request, skipPrefs bool) *au {
	t.Helper()
	r.CMI5 = true
	l := newLaunch(t, e, r)
	resp, err := testClient.Post(l.FetchURL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]string
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok["auth-token"] == "" {
		t.Fatalf("fetch = %d %v %v", resp.StatusCode, tok, err)
	}
	a := &au{t: t, l: l, auth: "Basic " + tok["auth-token"], publisher: r.PublisherID, mastery: r.MasteryScore,
		clock: time.Now().UTC().Truncate(time.Millisecond)}
	if a.publisher == "" {
		a.publisher = l.ActivityID
	}
	body := mustStatus(t, l.Endpoint, call{method: "GET", path: a.launchDataPath(), auth: a.auth}, 200)
	if err := json.Unmarshal(body, &a.launchData); err != nil {
		t.Fatal(err)
	}
	if !skipPrefs {
		a.readPrefs()
	}
	return a
}

func (a *au) launchDataPath() string {
	return "activities/state?stateId=LMS.LaunchData&activityId=" + url.QueryEscape(a.l.ActivityID) +
		"&agent=" + url.QueryEscape(a.l.Actor) + "&registration=" + a.l.Registration
}

func (a *au) readPrefs() {
	a.t.Helper()
	if s, b := do(a.t, a.l.Endpoint, call{method: "GET", path: prefsPath + url.QueryEscape(a.l.Actor), auth: a.auth}); s != 200 && s != 404 {
		a.t.Fatalf("GET learner preferences = %d %s", s, b)
	}
}

// statement returns a conformant statement of verb (a cmi5 verb name for a
// cmi5 defined statement, anything else for a cmi5 allowed one), each
// later than the one before.
func (a *au) statement(verb string) map[string]any {
	a.clock = a.clock.Add(time.Second)
	var actor map[string]any
	_ = json.Unmarshal([]byte(a.l.Actor), &actor)
	ctx := map[string]any{
		"registration":      a.l.Registration,
		"contextActivities": map[string]any{"grouping": []any{map[string]any{"id": a.publisher}}},
		"extensions":        map[string]any{sessionExt: a.l.SessionID},
	}
	st := map[string]any{
		"id":        xapi.NewUUID(),
		"actor":     actor,
		"verb":      map[string]any{"id": verbs + verb, "display": map[string]any{"en-US": verb}},
		"object":    map[string]any{"objectType": "Activity", "id": a.l.ActivityID},
		"timestamp": a.clock.Format("2006-01-02T15:04:05.000Z"),
		"context":   ctx,
	}
	cats := []any{map[string]any{"id": cmi5Cat}}
	result := map[string]any{"duration": "PT12S"}
	switch verb {
	case "initialized":
		result = nil
	case "terminated":
	case "completed":
		result["completion"] = true
	case "passed", "failed":
		result["success"] = verb == "passed"
		if a.mastery != nil {
			ctx["extensions"].(map[string]any)[masteryExt] = *a.mastery
		}
	default:
		st["object"] = map[string]any{"id": a.l.ActivityID + "/slide-2"}
		return st
	}
	if verb == "completed" || verb == "passed" || verb == "failed" {
		cats = append(cats, map[string]any{"id": moveOnCat})
	}
	ctx["contextActivities"].(map[string]any)["category"] = cats
	if result != nil {
		st["result"] = result
	}
	return st
}

// send PUTs st (POSTs it when it has no id) and returns the status.
func (a *au) send(st map[string]any) (int, string) {
	a.t.Helper()
	b, _ := json.Marshal(st)
	c := call{method: "POST", path: "statements", body: string(b), auth: a.auth}
	if id, ok := st["id"].(string); ok {
		c = call{method: "PUT", path: "statements?statementId=" + id, body: string(b), auth: a.auth}
	}
	s, body := do(a.t, a.l.Endpoint, c)
	return s, string(body)
}

func (a *au) mustSend(verb string) {
	a.t.Helper()
	if s, b := a.send(a.statement(verb)); s != http.StatusNoContent && s != http.StatusOK {
		a.t.Fatalf("%s = %d %s, want it stored", verb, s, b)
	}
}

func (a *au) mustRefuse(name string, st map[string]any) {
	a.t.Helper()
	s, b := a.send(st)
	if s != http.StatusForbidden && s != http.StatusUnauthorized {
		a.t.Errorf("%s: %d %s, want 403 or 401", name, s, b)
	}
}

func ctxOf(st map[string]any) map[string]any { return st["context"].(map[string]any) }
func resultOf(st map[string]any) map[string]any {
	if st["result"] == nil {
		st["result"] = map[string]any{}
	}
	return st["result"].(map[string]any)
}
func categories(st map[string]any) map[string]any {
	return ctxOf(st)["contextActivities"].(map[string]any)
}

// TestCMI5StatementRules plays a session that sends, between statements
// that must be stored, statements that break one rule of cmi5 section 9
// each, which must be refused with 403 without changing the session.
func TestCMI5StatementRules(t *testing.T) {
	e := newEnv(t, envOptions{})
	mastery := 0.9
	a := startAU(t, e, launch.Request{CMI5Settings: launch.CMI5Settings{PublisherID: "https://publisher.example/au/1", MasteryScore: &mastery}}, false)
	if a.launchData["masteryScore"] != 0.9 || a.launchData["moveOn"] != "Completed" || a.launchData["launchMode"] != "Normal" {
		t.Errorf("LMS.LaunchData = %v", a.launchData)
	}
	a.mustRefuse("allowed statement before initialized", a.statement("experienced"))
	a.mustRefuse("completed before initialized", a.statement("completed"))
	a.mustSend("initialized")
	a.mustRefuse("initialized twice", a.statement("initialized"))

	type rule struct {
		name  string
		verb  string
		alter func(st map[string]any)
	}
	for _, r := range []rule{
		{"no id", "experienced", func(st map[string]any) { delete(st, "id") }},
		{"no timestamp", "experienced", func(st map[string]any) { delete(st, "timestamp") }},
		{"timestamp not in UTC", "experienced", func(st map[string]any) {
			st["timestamp"] = strings.Replace(st["timestamp"].(string), "Z", "-06:00", 1)
		}},
		{"actor is a group", "passed", func(st map[string]any) { st["actor"].(map[string]any)["objectType"] = "Group" }},
		{"actor by mbox", "passed", func(st map[string]any) {
			act := st["actor"].(map[string]any)
			delete(act, "account")
			act["mbox"] = "mailto:learner@example.com"
		}},
		{"object is not the AU", "passed", func(st map[string]any) { st["object"] = map[string]any{"id": "https://example.com/other"} }},
		{"no context", "passed", func(st map[string]any) { delete(st, "context") }},
		{"no registration", "passed", func(st map[string]any) { delete(ctxOf(st), "registration") }},
		{"another registration", "passed", func(st map[string]any) { ctxOf(st)["registration"] = xapi.NewUUID() }},
		{"no session id", "experienced", func(st map[string]any) { delete(ctxOf(st)["extensions"].(map[string]any), sessionExt) }},
		{"another session id", "completed", func(st map[string]any) { ctxOf(st)["extensions"].(map[string]any)[sessionExt] = xapi.NewUUID() }},
		{"no publisher id grouping", "completed", func(st map[string]any) { delete(categories(st), "grouping") }},
		{"passed with completion", "passed", func(st map[string]any) { resultOf(st)["completion"] = true }},
		{"completed with success", "completed", func(st map[string]any) { resultOf(st)["success"] = true }},
		{"completed without completion", "completed", func(st map[string]any) { delete(resultOf(st), "completion") }},
		{"completed with completion false", "completed", func(st map[string]any) { resultOf(st)["completion"] = false }},
		{"completed with a score", "completed", func(st map[string]any) {
			resultOf(st)["score"] = map[string]any{"raw": 50, "scaled": 0.5, "min": 0, "max": 100}
		}},
		{"terminated without result", "terminated", func(st map[string]any) { delete(st, "result") }},
		{"terminated without duration", "terminated", func(st map[string]any) { delete(resultOf(st), "duration") }},
		{"completed without duration", "completed", func(st map[string]any) { delete(resultOf(st), "duration") }},
		{"passed without duration", "passed", func(st map[string]any) { delete(resultOf(st), "duration") }},
		{"failed without duration", "failed", func(st map[string]any) { delete(resultOf(st), "duration") }},
		{"passed without success", "passed", func(st map[string]any) { delete(resultOf(st), "success") }},
		{"passed with success false", "passed", func(st map[string]any) { resultOf(st)["success"] = false }},
		{"failed without success", "failed", func(st map[string]any) { delete(resultOf(st), "success") }},
		{"failed with success true", "failed", func(st map[string]any) { resultOf(st)["success"] = true }},
		{"passed below the masteryScore", "passed", func(st map[string]any) { resultOf(st)["score"] = map[string]any{"scaled": 0.89} }},
		{"failed at the masteryScore", "failed", func(st map[string]any) { resultOf(st)["score"] = map[string]any{"scaled": 0.9} }},
		{"failed above the masteryScore", "failed", func(st map[string]any) { resultOf(st)["score"] = map[string]any{"scaled": 0.91} }},
		{"raw score without min", "passed", func(st map[string]any) {
			resultOf(st)["score"] = map[string]any{"scaled": 0.95, "raw": 95, "max": 100}
		}},
		{"raw score without max", "passed", func(st map[string]any) {
			resultOf(st)["score"] = map[string]any{"scaled": 0.95, "raw": 95, "min": 0}
		}},
		{"completed without the moveOn category", "completed", func(st map[string]any) {
			categories(st)["category"] = []any{map[string]any{"id": cmi5Cat}}
		}},
		{"passed without the moveOn category", "passed", func(st map[string]any) {
			categories(st)["category"] = []any{map[string]any{"id": cmi5Cat}}
		}},
		{"allowed statement with the moveOn category", "experienced", func(st map[string]any) {
			categories(st)["category"] = []any{map[string]any{"id": moveOnCat}}
		}},
		{"terminated with the moveOn category", "terminated", func(st map[string]any) {
			categories(st)["category"] = []any{map[string]any{"id": cmi5Cat}, map[string]any{"id": moveOnCat}}
		}},
		{"passed by score without the masteryScore", "passed", func(st map[string]any) {
			resultOf(st)["score"] = map[string]any{"scaled": 0.95}
			delete(ctxOf(st)["extensions"].(map[string]any), masteryExt)
		}},
		{"passed with another masteryScore", "passed", func(st map[string]any) { ctxOf(st)["extensions"].(map[string]any)[masteryExt] = 0.8 }},
		{"an LMS verb", "experienced", func(st map[string]any) {
			st["verb"] = map[string]any{"id": "https://w3id.org/xapi/adl/verbs/satisfied"}
			st["object"] = map[string]any{"id": a.l.ActivityID}
			categories(st)["category"] = []any{map[string]any{"id": cmi5Cat}}
		}},
		{"another verb with the cmi5 category", "experienced", func(st map[string]any) {
			categories(st)["category"] = []any{map[string]any{"id": cmi5Cat}}
			st["object"] = map[string]any{"id": a.l.ActivityID}
		}},
		{"voiding", "experienced", func(st map[string]any) {
			st["verb"] = map[string]any{"id": "http://adlnet.gov/expapi/verbs/voided"}
			st["object"] = map[string]any{"objectType": "StatementRef", "id": xapi.NewUUID()}
		}},
	} {
		st := a.statement(r.verb)
		r.alter(st)
		a.mustRefuse(r.name, st)
	}
	a.mustSend("experienced")
	a.mustSend("completed")
	a.mustRefuse("completed twice", a.statement("completed"))
	// A passed statement without a score need not carry the masteryScore.
	passed := a.statement("passed")
	delete(ctxOf(passed)["extensions"].(map[string]any), masteryExt)
	if s, b := a.send(passed); s != http.StatusNoContent {
		t.Fatalf("passed without a score or the masteryScore = %d %s, want it stored", s, b)
	}
	a.mustRefuse("passed twice", a.statement("passed"))
	a.mustRefuse("failed after passed", a.statement("failed"))
	a.mustSend("terminated")
	a.mustRefuse("a statement after terminated", a.statement("experienced"))
	if s, b := do(t, a.l.Endpoint, call{method: "GET", path: a.launchDataPath(), auth: a.auth}); s != http.StatusUnauthorized {
		t.Errorf("reading state after terminated = %d %s, want 401: the token lasts the session", s, b)
	}

	// A later session of the registration: completed and passed are once
	// per registration, failed may not follow passed.
	b := startAU(t, e, launch.Request{Registration: a.l.Registration, ActivityID: a.l.ActivityID, User: userOf(t, a),
		CMI5Settings: launch.CMI5Settings{PublisherID: "https://publisher.example/au/1", MasteryScore: &mastery}}, false)
	b.mustSend("initialized")
	b.mustRefuse("completed again in the registration", b.statement("completed"))
	b.mustRefuse("passed again in the registration", b.statement("passed"))
	b.mustRefuse("failed after passed in the registration", b.statement("failed"))
	b.mustSend("terminated")
}

// userOf returns the user of a's launch (the account name of its actor).
func userOf(t testing.TB, a *au) (u host.User) {
	var actor struct {
		Account struct{ Name string } `json:"account"`
	}
	if err := json.Unmarshal([]byte(a.l.Actor), &actor); err != nil || actor.Account.Name == "" {
		t.Fatalf("actor %s has no account", a.l.Actor)
	}
	u.ID = actor.Account.Name
	return u
}

// TestCMI5FailedSession checks the rules around failed: once per session,
// and a session that failed may not pass.
func TestCMI5FailedSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := startAU(t, e, launch.Request{}, false)
	a.mustSend("initialized")
	a.mustSend("failed")
	a.mustRefuse("failed twice", a.statement("failed"))
	a.mustRefuse("passed after failed", a.statement("passed"))
	a.mustSend("terminated")
}

// TestCMI5Abandoned checks that launching an AU again in a registration
// abandons its session that did not terminate: the abandoned statement is
// recorded with the session's duration, and the old credential stops.
func TestCMI5Abandoned(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := startAU(t, e, launch.Request{}, false)
	a.mustSend("initialized")
	a.mustSend("experienced") // two seconds after the launch, by the AU's clock
	b := startAU(t, e, launch.Request{Registration: a.l.Registration, ActivityID: a.l.ActivityID, User: userOf(t, a)}, false)
	a.mustRefuse("a statement of the abandoned session", a.statement("experienced"))
	b.mustSend("initialized")
	b.mustSend("terminated")
	var abandoned []map[string]any
	for _, raw := range e.delivered(t) {
		var st map[string]any
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if st["verb"].(map[string]any)["id"] == "https://w3id.org/xapi/adl/verbs/abandoned" {
			abandoned = append(abandoned, st)
		}
	}
	if len(abandoned) != 1 {
		t.Fatalf("%d abandoned statements delivered, want 1 (for the first session only)", len(abandoned))
	}
	st := abandoned[0]
	ext := ctxOf(st)["extensions"].(map[string]any)
	if ext[sessionExt] != a.l.SessionID || st["object"].(map[string]any)["id"] != a.l.ActivityID {
		t.Errorf("abandoned statement %v is not about the first session of the AU", st)
	}
	d, err := xapi.ParseDuration(resultOf(st)["duration"].(string))
	if err != nil || d.Time < 1500*time.Millisecond || d.Time > time.Minute {
		t.Errorf("abandoned duration %v (%v), want the time from the launch to the last statement, about 2s", resultOf(st)["duration"], err)
	}
}

// TestCMI5Documents checks the document rules: LMS.LaunchData is read
// only, the learner preferences are written only in their documented form
// for the launch's actor, and must be read before initialized.
func TestCMI5Documents(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := startAU(t, e, launch.Request{}, true)
	a.mustRefuse("initialized before reading the learner preferences", a.statement("initialized"))
	for _, c := range []call{
		{method: "PUT", path: a.launchDataPath(), body: `{"launchMode":"Browse"}`},
		{method: "POST", path: a.launchDataPath(), body: `{"launchMode":"Browse"}`},
		{method: "DELETE", path: a.launchDataPath()},
		{method: "DELETE", path: strings.Replace(a.launchDataPath(), "stateId=LMS.LaunchData&", "", 1)},
	} {
		c.auth = a.auth
		if s, b := do(t, a.l.Endpoint, c); s != http.StatusForbidden {
			t.Errorf("%s LMS.LaunchData = %d %s, want 403", c.method, s, b)
		}
	}
	mustStatus(t, a.l.Endpoint, call{method: "GET", path: a.launchDataPath(), auth: a.auth}, 200)
	prefs := prefsPath + url.QueryEscape(a.l.Actor)
	for _, c := range []struct{ name, path, ct, body string }{
		{"no agent", "agents/profile?profileId=cmi5LearnerPreferences", "", `{"languagePreference":"en-US","audioPreference":"on"}`},
		{"another agent", "agents/profile?profileId=cmi5LearnerPreferences&agent=" + url.QueryEscape(`{"mbox":"mailto:other@example.com"}`), "", `{"languagePreference":"en-US","audioPreference":"on"}`},
		{"not JSON", prefs, "text/plain", `just some text`},
		{"missing language", prefs, "", `{"audioPreference":"on"}`},
		{"missing audio", prefs, "", `{"languagePreference":"en-US"}`},
		{"language not a list of tags", prefs, "", `{"languagePreference":"not comma separated","audioPreference":"on"}`},
		{"empty language", prefs, "", `{"languagePreference":"","audioPreference":"on"}`},
		{"audio neither on nor off", prefs, "", `{"languagePreference":"en-US","audioPreference":"loud"}`},
	} {
		if s, b := do(t, a.l.Endpoint, call{method: "PUT", path: c.path, ct: c.ct, body: c.body, auth: a.auth}); s != http.StatusForbidden {
			t.Errorf("learner preferences, %s: %d %s, want 403", c.name, s, b)
		}
	}
	mustStatus(t, a.l.Endpoint, call{method: "PUT", path: prefs, body: `{"languagePreference":"en-US,fr-FR,fr-BE","audioPreference":"off"}`, auth: a.auth}, 204)
	a.readPrefs()
	a.mustSend("initialized")
	a.mustSend("terminated")
}

// TestCMI5LaunchModes checks that an AU launched in Browse mode may send
// initialized and terminated but not completed, passed or failed.
func TestCMI5LaunchModes(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := startAU(t, e, launch.Request{CMI5Settings: launch.CMI5Settings{LaunchMode: "Browse", MoveOn: "Passed", LaunchMethod: "OwnWindow"}}, false)
	if a.launchData["launchMode"] != "Browse" || a.launchData["moveOn"] != "Passed" || a.launchData["launchMethod"] != "OwnWindow" {
		t.Errorf("LMS.LaunchData = %v", a.launchData)
	}
	a.mustSend("initialized")
	for _, v := range []string{"completed", "passed", "failed"} {
		a.mustRefuse(v+" in Browse mode", a.statement(v))
	}
	a.mustSend("terminated")
}

// TestCMI5Launched checks the launched statement the launch records and
// the cmi5 settings a launch refuses.
func TestCMI5Launched(t *testing.T) {
	e := newEnv(t, envOptions{})
	mastery := 0.75
	a := startAU(t, e, launch.Request{CMI5Settings: launch.CMI5Settings{PublisherID: "https://publisher.example/au/7", MasteryScore: &mastery,
		MoveOn: "CompletedAndPassed", LaunchParameters: "level=2", LaunchURL: "https://content.example/au/index.html"}}, false)
	var launched map[string]any
	for _, raw := range e.delivered(t) {
		if strings.Contains(string(raw), "verbs/launched") {
			_ = json.Unmarshal(raw, &launched)
		}
	}
	if launched == nil {
		t.Fatal("no launched statement delivered")
	}
	ext := ctxOf(launched)["extensions"].(map[string]any)
	want := map[string]any{
		sessionExt: a.l.SessionID, masteryExt: 0.75,
		"https://w3id.org/xapi/cmi5/context/extensions/moveon":           "CompletedAndPassed",
		"https://w3id.org/xapi/cmi5/context/extensions/launchmode":       "Normal",
		"https://w3id.org/xapi/cmi5/context/extensions/launchurl":        "https://content.example/au/index.html",
		"https://w3id.org/xapi/cmi5/context/extensions/launchparameters": "level=2",
	}
	for k, v := range want {
		if ext[k] != v {
			t.Errorf("launched statement extension %s = %v, want %v", k, ext[k], v)
		}
	}
	if !strings.Contains(string(mustJSONOf(t, categories(launched)["grouping"])), "https://publisher.example/au/7") {
		t.Errorf("launched statement grouping %v lacks the publisher id", categories(launched)["grouping"])
	}
	if a.launchData["launchParameters"] != "level=2" || a.launchData["masteryScore"] != 0.75 {
		t.Errorf("LMS.LaunchData = %v", a.launchData)
	}
	bad := 1.5
	for _, s := range []launch.CMI5Settings{{MoveOn: "Whenever"}, {LaunchMode: "Preview"}, {LaunchMethod: "Popup"}, {MasteryScore: &bad}, {PublisherID: "not an iri"}, {PublisherID: "https://example.com/au"}} {
		if _, err := e.srv.Launch(t.Context(), launch.Request{Org: "acme", User: host.User{ID: "u-1"}, ActivityID: "https://example.com/au", CMI5: true, CMI5Settings: s}); err == nil {
			t.Errorf("Launch with %+v succeeded, want an error", s)
		}
	}
}

func mustJSONOf(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCMI5StateSurvivesRestart checks that a cmi5 session goes on after a
// restart of the launch Server with its rules intact: the session is
// still initialized, what it sent still counts, and a terminated
// session's credential stays ended.
func TestCMI5StateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, envOptions{dir: dir, sync: "always"})
	a := startAU(t, e, launch.Request{}, false)
	a.mustSend("initialized")
	a.mustSend("completed")
	done := startAU(t, e, launch.Request{}, false)
	done.mustSend("initialized")
	done.mustSend("terminated")
	left := startAU(t, e, launch.Request{}, false)
	left.mustSend("initialized")
	startAU(t, e, launch.Request{Registration: left.l.Registration, ActivityID: left.l.ActivityID, User: userOf(t, left)}, false)
	_ = e.srv.Close()

	e2 := newEnv(t, envOptions{dir: dir})
	moved := func(x *au) *au {
		y := *x
		l := *x.l
		l.Endpoint = e2.endpoint
		y.l = &l
		return &y
	}
	a, done, left = moved(a), moved(done), moved(left)
	a.mustRefuse("initialized again after the restart", a.statement("initialized"))
	a.mustRefuse("completed again after the restart", a.statement("completed"))
	a.mustSend("experienced")
	a.mustSend("terminated")
	done.mustRefuse("a statement of a session terminated before the restart", done.statement("experienced"))
	left.mustRefuse("a statement of a session abandoned before the restart", left.statement("experienced"))
}

// TestCMI5ConcurrentWrites checks that the rules hold when an AU sends
// statements at once (content often does not wait for one answer before
// the next): of several completed statements sent together exactly one is
// stored, and allowed statements sent meanwhile all are.
func TestCMI5ConcurrentWrites(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := startAU(t, e, launch.Request{}, false)
	a.mustSend("initialized")
	const n = 8
	sts := make([]map[string]any, 0, 2*n)
	for range n {
		sts = append(sts, a.statement("completed"), a.statement("experienced"))
	}
	codes := make([]int, len(sts))
	var wg sync.WaitGroup
	for i, st := range sts {
		wg.Go(func() { codes[i], _ = a.send(st) })
	}
	wg.Wait()
	stored := map[string]int{}
	for i, c := range codes {
		if c == http.StatusNoContent {
			stored[sts[i]["verb"].(map[string]any)["id"].(string)]++
		} else if c != http.StatusForbidden {
			t.Errorf("statement %d: status %d, want 204 or 403", i, c)
		}
	}
	if stored[verbs+"completed"] != 1 || stored[verbs+"experienced"] != n {
		t.Errorf("stored %v, want 1 completed and %d experienced", stored, n)
	}
	a.mustSend("terminated")
}

// TestCMI5AbandonAndWaive checks the LMS's own cmi5 verbs: Abandon ends a
// session on LearningFlow's word, a launch of another AU of the
// registration abandons the open session of the first, and Waive records
// a waived AU once per registration.
func TestCMI5AbandonAndWaive(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	a := startAU(t, e, launch.Request{}, false)
	a.mustSend("initialized")
	if err := e.srv.Abandon(ctx, a.l.ID); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	a.mustRefuse("a statement after Abandon", a.statement("experienced"))
	if err := e.srv.Abandon(ctx, a.l.ID); err != nil {
		t.Errorf("Abandon of an ended session = %v, want nil (nothing to do)", err)
	}
	if err := e.srv.Abandon(ctx, "no-such-launch"); !errors.Is(err, launch.ErrNoSession) {
		t.Errorf("Abandon of an unknown launch = %v, want ErrNoSession", err)
	}

	first := startAU(t, e, launch.Request{}, false)
	first.mustSend("initialized")
	second := startAU(t, e, launch.Request{Registration: first.l.Registration, User: userOf(t, first)}, false)
	first.mustRefuse("a statement of an AU left for another of the registration", first.statement("experienced"))
	second.mustSend("initialized")

	w := launch.Waiver{Org: "acme", User: userOf(t, second), ActivityID: "https://acme.example/au/3", Registration: second.l.Registration,
		PublisherID: "https://publisher.example/au/3", Reason: "Tested Out"}
	if err := e.srv.Waive(ctx, w); err != nil {
		t.Fatalf("Waive: %v", err)
	}
	if err := e.srv.Waive(ctx, w); !errors.Is(err, launch.ErrWaived) {
		t.Errorf("second Waive = %v, want ErrWaived", err)
	}
	bad := w
	bad.Reason = "Because"
	if err := e.srv.Waive(ctx, bad); err == nil || !strings.Contains(err.Error(), "Tested Out") {
		t.Errorf("Waive with reason %q = %v, want an error listing the reasons", bad.Reason, err)
	}

	abandoned := map[string]bool{}
	var waived []map[string]any
	for _, raw := range e.delivered(t) {
		var st map[string]any
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		ext, _ := ctxOf(st)["extensions"].(map[string]any)
		switch st["verb"].(map[string]any)["id"] {
		case "https://w3id.org/xapi/adl/verbs/abandoned":
			abandoned[ext[sessionExt].(string)] = true
		case "https://w3id.org/xapi/adl/verbs/waived":
			waived = append(waived, st)
		}
	}
	if len(abandoned) != 2 || !abandoned[a.l.SessionID] || !abandoned[first.l.SessionID] {
		t.Errorf("abandoned sessions %v, want the two left open (%s, %s)", abandoned, a.l.SessionID, first.l.SessionID)
	}
	if len(waived) != 1 {
		t.Fatalf("%d waived statements, want 1", len(waived))
	}
	r := resultOf(waived[0])
	ext := ctxOf(waived[0])["extensions"].(map[string]any)
	if r["success"] != true || r["completion"] != true || r["extensions"].(map[string]any)["https://w3id.org/xapi/cmi5/result/extensions/reason"] != "Tested Out" ||
		ext[sessionExt] == "" || ext[sessionExt] == second.l.SessionID || !strings.Contains(string(mustJSONOf(t, categories(waived[0]))), moveOnCat) {
		t.Errorf("waived statement %v", waived[0])
	}
}

// TestCMI5Satisfy checks the satisfied statements LearningFlow asks for:
// a block satisfied in an AU's session carries that session's id, the
// course satisfied outside any session one of its own, each once per
// registration.
func TestCMI5Satisfy(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	a := startAU(t, e, launch.Request{}, false)
	a.mustSend("initialized")
	a.mustSend("completed")
	block := launch.Satisfaction{Org: "acme", User: userOf(t, a), Registration: a.l.Registration,
		ObjectID: "https://learn.acme.example/courses/c1/blocks/1", PublisherID: "https://publisher.example/blocks/1", LaunchID: a.l.ID}
	if err := e.srv.Satisfy(ctx, block); err != nil {
		t.Fatalf("Satisfy block: %v", err)
	}
	if err := e.srv.Satisfy(ctx, block); !errors.Is(err, launch.ErrSatisfied) {
		t.Errorf("second Satisfy = %v, want ErrSatisfied", err)
	}
	course := launch.Satisfaction{Org: "acme", User: userOf(t, a), Registration: a.l.Registration,
		ObjectID: "https://learn.acme.example/courses/c1", Course: true}
	if err := e.srv.Satisfy(ctx, course); err != nil {
		t.Fatalf("Satisfy course: %v", err)
	}
	wrong := block
	wrong.ObjectID, wrong.Registration = "https://learn.acme.example/courses/c1/blocks/2", xapi.NewUUID()
	if err := e.srv.Satisfy(ctx, wrong); !errors.Is(err, launch.ErrNoSession) {
		t.Errorf("Satisfy naming a launch of another registration = %v, want ErrNoSession", err)
	}
	got := map[string]map[string]any{}
	for _, raw := range e.delivered(t) {
		var st map[string]any
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if st["verb"].(map[string]any)["id"] == "https://w3id.org/xapi/adl/verbs/satisfied" {
			got[st["object"].(map[string]any)["id"].(string)] = st
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d satisfied statements, want 2 (block and course)", len(got))
	}
	b, c := got[block.ObjectID], got[course.ObjectID]
	typeOf := func(st map[string]any) any {
		return st["object"].(map[string]any)["definition"].(map[string]any)["type"]
	}
	sid := func(st map[string]any) any { return ctxOf(st)["extensions"].(map[string]any)[sessionExt] }
	if typeOf(b) != "https://w3id.org/xapi/cmi5/activitytype/block" || sid(b) != a.l.SessionID ||
		!strings.Contains(string(mustJSONOf(t, categories(b)["grouping"])), block.PublisherID) {
		t.Errorf("block satisfied statement %v", b)
	}
	if typeOf(c) != "https://w3id.org/xapi/cmi5/activitytype/course" || sid(c) == a.l.SessionID || sid(c) == "" {
		t.Errorf("course satisfied statement %v: want the course type and a session id of its own", c)
	}
	if !strings.Contains(string(mustJSONOf(t, categories(c)["category"])), cmi5Cat) {
		t.Errorf("course satisfied statement lacks the cmi5 category: %v", c)
	}
}

// TestCMI5FetchSurvivesRestart checks that the fetch URL of a cmi5 launch
// works across a restart, once: fetched after a restart it gives a working
// credential; fetched again, before or after another restart, it answers
// error-code 1.
func TestCMI5FetchSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, envOptions{dir: dir, sync: "always"})
	l := newLaunch(t, e, launch.Request{CMI5: true})
	_ = e.srv.Close()

	fetch := func(endpoint string) map[string]string {
		t.Helper()
		u := strings.Replace(l.FetchURL, l.Endpoint, endpoint, 1)
		resp, err := testClient.Post(u, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("fetch = %d %v %v", resp.StatusCode, m, err)
		}
		return m
	}
	e2 := newEnv(t, envOptions{dir: dir, sync: "always"})
	m := fetch(e2.endpoint)
	if m["auth-token"] == "" {
		t.Fatalf("fetch after a restart = %v, want an auth-token", m)
	}
	auth := "Basic " + m["auth-token"]
	path := "activities/state?stateId=LMS.LaunchData&activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(l.Actor) + "&registration=" + l.Registration
	mustStatus(t, e2.endpoint, call{method: "GET", path: path, auth: auth}, 200)
	if m := fetch(e2.endpoint); m["error-code"] != "1" {
		t.Errorf("second fetch = %v, want error-code 1", m)
	}
	_ = e2.srv.Close()

	e3 := newEnv(t, envOptions{dir: dir, sync: "always"})
	if m := fetch(e3.endpoint); m["error-code"] != "1" || m["auth-token"] != "" {
		t.Errorf("fetch after a second restart = %v, want error-code 1", m)
	}
	mustStatus(t, e3.endpoint, call{method: "GET", path: path, auth: auth}, 200)
	data, err := os.ReadFile(filepath.Join(dir, "launches.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"id":"`+l.ID+`"`); n != 1 {
		t.Errorf("the sessions file holds %d lines of the launch after a restart, want its last one only", n)
	}
}

// TestCMI5Progress checks what Progress reports of an AU in a
// registration as the session goes, for LearningFlow's moveOn judgement.
func TestCMI5Progress(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	a := startAU(t, e, launch.Request{CMI5Settings: launch.CMI5Settings{MoveOn: "CompletedAndPassed"}}, false)
	progress := func() launch.AUProgress {
		t.Helper()
		p, err := e.srv.Progress(ctx, "acme", userOf(t, a), a.l.ActivityID, a.l.Registration)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := progress(); p.MoveOn != "CompletedAndPassed" || p.MoveOnMet || p.Completed || p.Passed {
		t.Errorf("after the launch: %+v", p)
	}
	a.mustSend("initialized")
	a.mustSend("completed")
	if p := progress(); !p.Completed || p.MoveOnMet {
		t.Errorf("after completed: %+v, want completed and moveOn not met (passed is missing)", p)
	}
	a.mustSend("passed")
	if p := progress(); !p.Completed || !p.Passed || !p.MoveOnMet {
		t.Errorf("after passed: %+v, want moveOn met", p)
	}
	other, err := e.srv.Progress(ctx, "acme", userOf(t, a), "https://acme.example/au/never-launched", a.l.Registration)
	if err != nil || other.MoveOnMet || other.MoveOn != "" {
		t.Errorf("an AU never launched: %+v, %v", other, err)
	}
	if err := e.srv.Waive(ctx, launch.Waiver{Org: "acme", User: userOf(t, a), ActivityID: "https://acme.example/au/never-launched",
		Registration: a.l.Registration, Reason: "Administrative"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.srv.Progress(ctx, "acme", userOf(t, a), "https://acme.example/au/never-launched", a.l.Registration); !p.Waived || !p.MoveOnMet {
		t.Errorf("a waived AU: %+v, want moveOn met", p)
	}
}
