//go:build unix

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
	"github.com/learningflow/lrsbridge/host/panel/paneltest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// courseState is what the test reads of the sample course page.
type courseState struct {
	Ready     bool     `json:"ready"`
	Slide     int      `json:"slide"`
	StartedAt int      `json:"startedAt"`
	Saved     int      `json:"saved"`
	Sent      []string `json:"sent"`
	Errors    []string `json:"errors"`
}

// TestBrowserLaunchedCourse launches the sample course twice in headless
// Chromium through the demo's launch route: the first launch starts at
// slide 1, moves to the question and leaves; the second resumes at the
// bookmark, answers and completes. The statements must reach the
// organization's LRS through the host, with LearningFlow's actor.
func TestBrowserLaunchedCourse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lrs, h, srv, page := launchedDemo(t, ctx)

	read := func() courseState {
		t.Helper()
		var st courseState
		must(t, page.Eval(ctx, `window.course || {}`, &st))
		return st
	}
	open := func() courseState {
		t.Helper()
		must(t, page.Call(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/launch/sample?org=acme&user=u-42"}, nil))
		page.WaitFor(t, ctx, "the course to start", `window.course && (window.course.ready || window.course.errors.length > 0)`)
		return read()
	}

	first := open()
	if first.StartedAt != 1 || len(first.Errors) > 0 {
		t.Fatalf("first launch: %+v, want a start at slide 1 without errors", first)
	}
	must(t, page.Eval(ctx, `document.querySelector('.slide.current button.next').click(), true`, nil))
	page.WaitFor(t, ctx, "slide 2 saved", `window.course.saved === 2`)
	must(t, page.Eval(ctx, `document.querySelector('.slide.current button.next').click(), true`, nil))
	page.WaitFor(t, ctx, "slide 3 saved", `window.course.saved === 3`)

	second := open()
	if second.StartedAt != 3 || len(second.Errors) > 0 {
		t.Fatalf("second launch: %+v, want a resume at slide 3 (the bookmark)", second)
	}
	must(t, page.Eval(ctx, `document.querySelector('.slide.current button.answer[data-correct]').click(), true`, nil))
	page.WaitFor(t, ctx, "completion", `window.course.sent.includes("completed")`)
	final := read()
	if diff := cmp.Diff([]string{"initialized", "answered", "completed"}, final.Sent); diff != "" {
		t.Errorf("second launch sent (-want +got):\n%s", diff)
	}

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := h.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	verbs := map[string]int{}
	for _, raw := range lrs.Statements() {
		st, err := xapi.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if st.Actor.Account == nil || st.Actor.Account.Name != "u-42" {
			t.Errorf("statement at the LRS has actor %s, want LearningFlow's learner u-42", raw)
		}
		verbs[st.Verb.ID[len("http://adlnet.gov/expapi/verbs/"):]]++
	}
	want := map[string]int{"initialized": 2, "experienced": 2, "answered": 1, "completed": 1}
	if diff := cmp.Diff(want, verbs); diff != "" {
		t.Errorf("statements at the LRS by verb (-want +got):\n%s", diff)
	}
}

// launchedDemo starts what the browser tests of launched content need: a
// loopback LRS, a host whose organization "acme" delivers to it, the
// demo's launched-content routes on a test server, and a browser page.
func launchedDemo(t *testing.T, ctx context.Context) (*hosttest.LRS, *host.Host, *httptest.Server, *paneltest.Page) {
	t.Helper()
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	var dataDir string
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {
			OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"},
			Sinks: []host.SinkConfig{{ID: "lrs", Label: "Acme LRS", Plugin: "lrs",
				Config: map[string]any{"xapi_version": "1.0.3", "endpoint": lrs.Endpoint, "key": hosttest.LRSKey, "secret": hosttest.LRSSecret}}},
		},
	}, &syncBuffer{}, func(c *host.Config) { dataDir = c.DataDir })
	srv := httptest.NewUnstartedServer(nil)
	full, closeLaunched := withLaunchedContent(http.NotFoundHandler(), h, dataDir, "http://"+srv.Listener.Addr().String()+"/", io.Discard)
	t.Cleanup(closeLaunched)
	srv.Config.Handler = full
	srv.Start()
	t.Cleanup(srv.Close)
	page := paneltest.Start(t, ctx)
	return lrs, h, srv, page
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserLaunchedCMI5 launches the sample cmi5 quiz in headless
// Chromium through the demo's cmi5 route and answers it: the AU's session
// (fetch, LMS.LaunchData, learner preferences, initialized, passed with
// the masteryScore, completed, terminated) must pass the launch endpoint's
// cmi5 rules and reach the organization's LRS with the LMS's launched
// statement, all with one session id.
func TestBrowserLaunchedCMI5(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lrs, h, srv, page := launchedDemo(t, ctx)

	must(t, page.Call(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/launch/cmi5-sample?org=acme&user=u-7"}, nil))
	page.WaitFor(t, ctx, "the AU to start", `window.au && (window.au.ready || window.au.errors.length > 0)`)
	var errs []string
	must(t, page.Eval(ctx, `window.au.errors`, &errs))
	if len(errs) > 0 {
		t.Fatalf("the AU did not start: %v", errs)
	}
	must(t, page.Eval(ctx, `document.querySelector('button.answer[data-correct]').click(), true`, nil))
	page.WaitFor(t, ctx, "the session to end", `window.au.sent.includes("terminated") || window.au.errors.length > 0`)
	var sent []string
	must(t, page.Eval(ctx, `window.au.sent`, &sent))
	must(t, page.Eval(ctx, `window.au.errors`, &errs))
	if diff := cmp.Diff([]string{"initialized", "passed", "completed", "terminated"}, sent); diff != "" || len(errs) > 0 {
		t.Fatalf("the AU sent (-want +got):\n%s\nerrors: %v", diff, errs)
	}

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := h.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	sessions := map[string]bool{}
	var verbs []string
	for _, raw := range lrs.Statements() {
		st, err := xapi.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		verbs = append(verbs, st.Verb.ID[strings.LastIndex(st.Verb.ID, "/")+1:])
		if st.Context != nil {
			sessions[string(st.Context.Extensions["https://w3id.org/xapi/cmi5/context/extensions/sessionid"])] = true
		}
	}
	slices.Sort(verbs)
	if diff := cmp.Diff([]string{"completed", "initialized", "launched", "passed", "terminated"}, verbs); diff != "" {
		t.Errorf("statements at the LRS by verb (-want +got):\n%s", diff)
	}
	if len(sessions) != 1 {
		t.Errorf("the statements carry %d session ids, want the session's one", len(sessions))
	}
}
