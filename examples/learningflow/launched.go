package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/learningflow/lrsbridge/examples/learningflow/course"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Paths of launched content in the demo.
const (
	launchEndpointPath = "/xapi/launch/"
	sampleContentPath  = "/content/sample/"
	sampleLaunchPath   = "/launch/sample"
	cmi5LaunchPath     = "/launch/cmi5-sample"
)

// withLaunchedContent serves, beside next (the panel), the LRS endpoint for
// launched content (launch.Server, its store under dataDir/launch), the
// sample course, and GET /launch/sample?org=ORG&user=USER, which launches
// the sample course for a learner the way LearningFlow would: it issues
// the launch credential and redirects to the course with the Tin Can launch
// parameters. The registration is derived from the org, the user and the
// course, so launching again resumes the same attempt. GET
// /launch/cmi5-sample?org=ORG&user=USER launches the sample cmi5 quiz as
// cmi5 (fetch URL, LMS.LaunchData, masteryScore 0.8), a new attempt each
// time. panelURL is the
// public URL of the panel ("http://127.0.0.1:8080/"). The returned function
// closes the launch store.
func withLaunchedContent(next http.Handler, h *host.Host, dataDir, panelURL string, stderr io.Writer) (http.Handler, func()) {
	ls, err := launch.New(h, launch.Config{
		Dir:      filepath.Join(dataDir, "launch"),
		Endpoint: strings.TrimSuffix(panelURL, "/") + launchEndpointPath,
	})
	if err != nil {
		fmt.Fprintln(stderr, "learningflow: launched content is off:", err)
		return next, func() {}
	}
	mux := http.NewServeMux()
	mux.Handle(launchEndpointPath, ls)
	mux.Handle(sampleContentPath, http.StripPrefix(sampleContentPath, course.Handler()))
	mux.HandleFunc(sampleLaunchPath, func(w http.ResponseWriter, r *http.Request) {
		org, user := r.URL.Query().Get("org"), r.URL.Query().Get("user")
		if org == "" || user == "" {
			http.Error(w, "name the organization and the learner: /launch/sample?org=acme&user=u-1", http.StatusBadRequest)
			return
		}
		reg := xapi.MustUUIDv5(xapi.NamespaceStatement, "sample-course:"+org+":"+user)
		l, err := ls.Launch(r.Context(), launch.Request{
			Org: org, User: host.User{ID: user}, ActivityID: course.ActivityID, Registration: reg,
			Course: &host.Course{ID: "sample-course", Title: "The Cell", Lang: "en"},
		})
		if err != nil {
			http.Error(w, "cannot launch the sample course: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, l.TinCanURL(sampleContentPath+"index.html"), http.StatusSeeOther)
	})
	mux.HandleFunc(cmi5LaunchPath, func(w http.ResponseWriter, r *http.Request) {
		org, user := r.URL.Query().Get("org"), r.URL.Query().Get("user")
		if org == "" || user == "" {
			http.Error(w, "name the organization and the learner: "+cmi5LaunchPath+"?org=acme&user=u-1", http.StatusBadRequest)
			return
		}
		mastery := course.CMI5MasteryScore
		l, err := ls.Launch(r.Context(), launch.Request{
			// Every launch is a new attempt (a new registration): the quiz
			// keeps no progress, and cmi5 records passed once per
			// registration.
			Org: org, User: host.User{ID: user}, ActivityID: course.CMI5ActivityID, CMI5: true,
			Course:    &host.Course{ID: "cell-quiz", Title: "Cell quiz", Lang: "en"},
			ReturnURL: panelURL,
			CMI5Settings: launch.CMI5Settings{PublisherID: course.CMI5PublisherID, MoveOn: "CompletedAndPassed",
				MasteryScore: &mastery, LaunchURL: strings.TrimSuffix(panelURL, "/") + sampleContentPath + "cmi5.html"},
		})
		if err != nil {
			http.Error(w, "cannot launch the cmi5 quiz: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, l.CMI5URL(sampleContentPath+"cmi5.html"), http.StatusSeeOther)
	})
	mux.Handle("/", next)
	return mux, func() { _ = ls.Close() }
}
