package launch

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// FuzzCheckLearnerPrefs checks that the learner preferences an AU writes
// are accepted only in their documented form: a JSON object whose
// languagePreference is a comma separated list of language tags and whose
// audioPreference is "on" or "off".
func FuzzCheckLearnerPrefs(f *testing.F) {
	for _, s := range []string{
		`{"languagePreference":"en-US,fr-FR,fr-BE","audioPreference":"on"}`,
		`{"languagePreference":"","audioPreference":"off"}`,
		`{"languagePreference":"not comma separated","audioPreference":"on"}`,
		`{"languagePreference":"en","audioPreference":"on","extra":[1,2]}`,
		`["en","on"]`, `null`, `just some text`,
	} {
		f.Add("application/json", []byte(s))
	}
	f.Add("text/plain", []byte(`{"languagePreference":"en","audioPreference":"on"}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		err := checkLearnerPrefs(contentType, body)
		if err != nil {
			return
		}
		var prefs struct {
			Language string `json:"languagePreference"`
			Audio    string `json:"audioPreference"`
		}
		if e := json.Unmarshal(body, &prefs); e != nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", body, e)
		}
		if prefs.Audio != "on" && prefs.Audio != "off" {
			t.Errorf("accepted audioPreference %q", prefs.Audio)
		}
		for _, tag := range strings.Split(prefs.Language, ",") {
			if !xapi.IsLanguageTag(tag) {
				t.Errorf("accepted languagePreference %q with %q", prefs.Language, tag)
			}
		}
		if mt, _, _ := strings.Cut(contentType, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			t.Errorf("accepted Content-Type %q", contentType)
		}
	})
}

// FuzzCheckCMI5 checks the cmi5 statement rules on any statement xAPI
// accepts: they never panic, and a statement they let through carries the
// launch's actor, registration and session id, and is either cmi5 allowed
// or a cmi5 defined statement about the AU.
func FuzzCheckCMI5(f *testing.F) {
	const reg, sid, au = "0b1e2f5c-8f0e-4d4e-9a52-2a6f6d0e5f10", "s-1", "https://example.com/au"
	actor := `{"objectType":"Agent","account":{"homePage":"https://acme.example","name":"u-1"}}`
	ctx := `"context":{"registration":"` + reg + `","contextActivities":{"grouping":[{"id":"` + au + `"}],"category":[{"id":"` + cmi5Category + `"}]},"extensions":{"` + cmi5SessionID + `":"` + sid + `"}}`
	f.Add([]byte(`{"actor":` + actor + `,"verb":{"id":"` + verbInitialized + `"},"object":{"id":"` + au + `"},` + ctx + `}`))
	f.Add([]byte(`{"actor":` + actor + `,"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"` + au + `/p"},"context":{"registration":"` + reg + `"}}`))
	f.Add([]byte(`{"actor":` + actor + `,"verb":{"id":"` + verbCompleted + `"},"object":{"id":"` + au + `"},"result":{"completion":true,"duration":"PT1S"},` + strings.Replace(ctx, `"category":[`, `"category":[{"id":"`+cmi5MoveOnCategory+`"},`, 1) + `}`))
	learner := &xapi.Actor{ObjectType: xapi.ObjectTypeAgent, Account: &xapi.Account{HomePage: "https://acme.example", Name: "u-1"}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := xapi.Parse(raw)
		if err != nil || len(xapi.Validate(st, xapi.V200)) > 0 {
			return
		}
		mastery := 0.5
		sess := &session{org: "acme", activityID: au, reg: reg, principal: &lrsserver.Principal{Learner: learner},
			cmi5: &cmi5Session{SessionID: sid, Settings: CMI5Settings{PublisherID: au, MoveOn: "Completed", LaunchMode: "Normal", MasteryScore: &mastery}}}
		state := &cmi5State{Sessions: map[string]*cmi5SessState{sid: {PrefsRead: true}}}
		// Once before initialized, once after.
		for _, initialized := range []bool{false, true} {
			state.Sessions[sid].Initialized = initialized
			if _, err := checkCMI5(sess, state, []*xapi.Statement{st}); err != nil {
				continue
			}
			if st.Context == nil || !strings.EqualFold(st.Context.Registration, reg) || !extensionIs(st.Context.Extensions, cmi5SessionID, sid) {
				t.Fatalf("accepted %s without the launch's registration and session id", raw)
			}
			if st.Actor.Account == nil || st.Actor.Account.Name != "u-1" {
				t.Fatalf("accepted %s from another actor", raw)
			}
			if !initialized && st.Verb.ID != verbInitialized {
				t.Fatalf("accepted %s before initialized", raw)
			}
		}
	})
}
