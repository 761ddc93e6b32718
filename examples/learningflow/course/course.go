// Package course is the sample launched package of the LearningFlow demo: a
// small HTML course that behaves like an Articulate Storyline course
// published as "Tin Can API". It reads its launch parameters (endpoint,
// auth, actor, registration, activity_id) from its URL, sends initialized,
// experienced, answered and completed statements with the xAPI alternate
// request syntax (form-encoded POST ?method=PUT, as Storyline does in some
// browsers), and keeps its bookmark (the slide to resume at) in the State
// resource, so a second launch with the same registration resumes there.
// cmi5.html is a cmi5 assignable unit, a one-question quiz, launched as
// cmi5.
package course

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var page []byte

//go:embed cmi5.html
var cmi5Page []byte

// ActivityID is the course's activity id, as its tincan.xml would declare
// it.
const ActivityID = "https://learningflow.example/content/sample-course"

// The cmi5 quiz (cmi5.html): CMI5PublisherID is the AU's id as its
// cmi5.xml would declare it, CMI5ActivityID the id LearningFlow generates
// for the AU (cmi5 8.1.5: not the publisher's), and CMI5MasteryScore its
// masteryScore.
const (
	CMI5PublisherID  = "https://learningflow.example/content/cell-quiz/au"
	CMI5ActivityID   = "https://learningflow.example/courses/cell-quiz/au/1"
	CMI5MasteryScore = 0.8
)

// Handler serves the course page, and the cmi5 quiz at cmi5.html.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the course page takes GET", http.StatusMethodNotAllowed)
			return
		}
		body := page
		if r.URL.Path == "cmi5.html" {
			body = cmi5Page
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the launch credential
		_, _ = w.Write(body)
	})
}
