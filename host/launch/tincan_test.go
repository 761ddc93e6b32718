package launch_test

import (
	"encoding/json"
	"testing"

	"github.com/learningflow/lrsbridge/host/launch"
)

// TestTinCanJSContent runs Tin Can content built on TinCanJS, the library
// Storyline's and Rise's Tin Can output runs on (testdata/tincan), against
// a Tin Can launch: its statements (one by one and in a batch), its
// bookmark and suspend data, and its reads must work as they do against
// any LRS, and its voiding statement must be refused.
func TestTinCanJSContent(t *testing.T) {
	e := newEnv(t, envOptions{})
	l := newLaunch(t, e, launch.Request{})
	steps, order := runContent(t, "tincan", "tincanjs", "content.js", l.TinCanURL("https://content.example/story/index_lms.html"))
	if len(order) != 10 {
		t.Fatalf("the content reported steps %v, want 10", order)
	}
	for _, name := range []string{"initialized", "experienced", "answered and passed", "save bookmark", "save suspend data"} {
		if s := steps[name]; !s.OK {
			t.Errorf("%s: refused (%d)", name, s.Status)
		}
	}
	want := map[string]any{
		"read bookmark":     "slide-2",
		"read suspend data": map[string]any{"slides": []any{1.0, 2.0}, "score": 9.0},
		"read statement":    "http://adlnet.gov/expapi/verbs/experienced",
		"query statements":  4.0,
	}
	for name, v := range want {
		s := steps[name]
		if b, _ := json.Marshal(s.Value); !s.OK || string(b) != string(mustJSONOf(t, v)) {
			t.Errorf("%s: ok %v, got %s, want %s", name, s.OK, b, mustJSONOf(t, v))
		}
	}
	if s := steps["void"]; s.OK || s.Status != 403 {
		t.Errorf("voiding: %+v, want it refused with 403", s)
	}
	if n := len(e.delivered(t)); n != 4 {
		t.Errorf("%d statements delivered, want the content's 4", n)
	}
}
