package launch_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/learningflow/lrsbridge/host/launch"
)

// TestCMI5ThirdPartyAU runs an assignable unit built on a third-party
// cmi5 library (@xapi/cmi5, in testdata/cmi5au) against a cmi5 launch: the
// library's whole session must pass the launch server's cmi5 rules and
// reach the organization's integration, and the statement it tries after
// terminated must be refused. Without node or the installed npm
// dependencies the test is skipped, unless CI is set (CI installs both).
func TestCMI5ThirdPartyAU(t *testing.T) {
	e := newEnv(t, envOptions{})
	mastery := 0.8
	l := newLaunch(t, e, launch.Request{CMI5: true, CMI5Settings: launch.CMI5Settings{PublisherID: "https://publisher.example/au/quiz", MasteryScore: &mastery, MoveOn: "CompletedAndPassed"}})
	steps, order := runContent(t, "cmi5au", "@xapi/cmi5", "au.js", l.CMI5URL("https://content.example/quiz/index.html"))
	if len(order) != 7 {
		t.Fatalf("the AU reported steps %v, want 7", order)
	}
	for _, name := range order[:6] {
		if s := steps[name]; !s.OK {
			t.Errorf("step %s was refused: %d %s", name, s.Status, s.Error)
		}
	}
	if last := steps[order[6]]; last.OK || (last.Status != 401 && last.Status != 403) {
		t.Errorf("a statement after terminated: %+v, want it refused with 401 or 403", last)
	}
	var got []string
	for _, raw := range e.delivered(t) {
		var st struct {
			Verb    struct{ ID string }
			Context struct{ Extensions map[string]any }
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if st.Context.Extensions[sessionExt] == l.SessionID {
			got = append(got, st.Verb.ID[strings.LastIndex(st.Verb.ID, "/")+1:])
		}
	}
	slices.Sort(got)
	want := []string{"answered", "completed", "initialized", "launched", "passed", "progressed", "terminated"}
	if !slices.Equal(got, want) {
		t.Errorf("delivered verbs of the session %v, want %v", got, want)
	}
}
