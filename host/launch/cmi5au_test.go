package launch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/internal/nodetest"
)

// TestCMI5ThirdPartyAU runs an assignable unit built on a third-party
// cmi5 library (@xapi/cmi5, in testdata/cmi5au) against a cmi5 launch: the
// library's whole session must pass the launch server's cmi5 rules and
// reach the organization's integration, and the statement it tries after
// terminated must be refused. Without node or the installed npm
// dependencies the test is skipped, unless CI is set (CI installs both).
func TestCMI5ThirdPartyAU(t *testing.T) {
	dir := filepath.Join("testdata", "cmi5au")
	node := nodetest.Node(t, dir, "@xapi/cmi5")
	e := newEnv(t, envOptions{})
	mastery := 0.8
	l := newLaunch(t, e, launch.Request{CMI5: true, CMI5Settings: launch.CMI5Settings{PublisherID: "https://publisher.example/au/quiz", MasteryScore: &mastery, MoveOn: "CompletedAndPassed"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "au.js", l.CMI5URL("https://content.example/quiz/index.html"))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the AU failed: %v\n%s%s", err, out, stderr.Bytes())
	}
	type step struct {
		Step   string `json:"step"`
		OK     bool   `json:"ok"`
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	var steps []step
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var s step
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("AU output line %q: %v", sc.Text(), err)
		}
		steps = append(steps, s)
	}
	if len(steps) != 7 {
		t.Fatalf("the AU reported %d steps, want 7:\n%s%s", len(steps), out, stderr.Bytes())
	}
	for _, s := range steps[:6] {
		if !s.OK {
			t.Errorf("step %s was refused: %d %s", s.Step, s.Status, s.Error)
		}
	}
	if last := steps[6]; last.OK || (last.Status != 401 && last.Status != 403) {
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
