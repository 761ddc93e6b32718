// Package course is the sample launched package of the LearningFlow demo: a
// small HTML course that behaves like an Articulate Storyline course
// published as "Tin Can API". It reads its launch parameters (endpoint,
// auth, actor, registration, activity_id) from its URL, sends initialized,
// experienced, answered and completed statements with the xAPI alternate
// request syntax (form-encoded POST ?method=PUT, as Storyline does in some
// browsers), and keeps its bookmark (the slide to resume at) in the State
// resource, so a second launch with the same registration resumes there.
package course

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var page []byte

// ActivityID is the course's activity id, as its tincan.xml would declare
// it.
const ActivityID = "https://learningflow.example/content/sample-course"

// Handler serves the course page.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the course page takes GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the launch credential
		_, _ = w.Write(page)
	})
}
