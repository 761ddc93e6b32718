package normalize

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// discardState is a StateStore that remembers nothing, so that every SCORM
// call of a benchmark does the full work of a first call.
type discardState struct{}

func (discardState) Load(context.Context, string, string) ([]byte, bool, error) {
	return nil, false, nil
}
func (discardState) Save(context.Context, string, string, []byte) error { return nil }

// BenchmarkNormalize measures, per kind, normalizing one typical event,
// validating its statements for both versions (part of Normalize) and
// encoding them canonically.
func BenchmarkNormalize(b *testing.B) {
	env := func(kind, payload string) Event {
		return Event{
			ID: "evt-1", Org: "acme", Kind: kind, Time: "2025-03-14T09:12:30Z",
			User:       &User{ID: "u-1842", Email: "jane.doe@acme.example", Name: "Jane Doe"},
			Course:     &Course{ID: "c-77", Title: "Biology 101", Lang: "en"},
			Assignment: &Assignment{ID: "as-5", Title: "Week 3"},
			Payload:    json.RawMessage(payload),
		}
	}
	cases := []struct {
		name string
		ev   Event
	}{
		{"h5p.statement", env(KindH5PStatement, `{"statement":{"actor":{"name":"Jane","mbox":"mailto:undefined"},
			"verb":{"id":"http://adlnet.gov/expapi/verbs/answered","display":{"en-US":"answered"}},
			"object":{"id":"https://acme.learningflow.example/h5p/embed/12","objectType":"Activity","definition":{
				"extensions":{"http://h5p.org/x-api/h5p-local-content-id":12},"name":{"en-US":"Cells"},
				"description":{"en-US":"<p>Which are organelles?</p>"},"type":"http://adlnet.gov/expapi/activities/cmi.interaction",
				"interactionType":"choice","correctResponsesPattern":["0[,]3"],
				"choices":[{"id":"0","description":{"en-US":"Mitochondrion"}},{"id":"1","description":{"en-US":"Cell wall"}},
					{"id":"2","description":{"en-US":"Ribosome"}},{"id":"3","description":{"en-US":"Nucleus"}}]}},
			"context":{"contextActivities":{"category":[{"id":"http://h5p.org/libraries/H5P.MultiChoice-1.16","objectType":"Activity"}]}},
			"result":{"score":{"min":0,"max":2,"raw":1,"scaled":0.5},"completion":true,"success":false,"duration":"PT4.62S","response":"0[,]2"}}}`)},
		{"xapi.statement", env(KindXAPIStatement, `{"statements":[
			{"id":"9e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b","actor":{"name":["Jane"],"mbox":["mailto:jane@storyline.example"]},
			 "verb":{"id":"http://adlnet.gov/expapi/verbs/experienced","display":{"und":"experienced"}},
			 "object":{"id":"urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc","definition":{"name":{"und":"Slide 1"},"type":"http://adlnet.gov/expapi/activities/module"}},
			 "context":{"contextActivities":{"parent":[{"id":"urn:articulate:storyline:5Ujw93Dh98n"}]}},
			 "timestamp":"2025-03-14T10:39:58.5+01:00","authority":{"mbox":"mailto:lms@example.com"},"version":"1.0.0"},
			{"verb":{"id":"http://adlnet.gov/expapi/verbs/answered","display":{"und":"answered"}},
			 "object":{"id":"urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc/q1","definition":{"type":"http://adlnet.gov/expapi/activities/cmi.interaction","interactionType":"true-false","correctResponsesPattern":["true"]}},
			 "result":{"success":true,"response":"true","duration":"PT16.14S"}}]}`)},
		{"scorm.runtime", env(KindSCORMRuntime, `{"version":"1.2","package_id":"pkg-9","sco_id":"intro","attempt_id":"att-3","call":"Terminate",
			"cmi":{"core":{"lesson_status":"passed","exit":"","session_time":"0001:02:03.45","score":{"raw":"85","min":"0","max":"100"}},
			"interactions":{"0":{"id":"tf1","type":"true-false","student_response":"t","result":"correct","latency":"0000:00:07.5"},
				"1":{"id":"ch1","type":"choice","student_response":"a,c","result":"wrong","correct_responses":{"0":{"pattern":"a,b"}}}}}}`)},
		{"chat.message", env(KindChatMessage, `{"conversation_id":"conv-311","message_id":"m-9001","text":"What does a ribosome do?"}`)},
		{"chat.reply", env(KindChatReply, `{"conversation_id":"conv-311","message_id":"m-9002","in_reply_to":"m-9001","bot_id":"tutor-v2","text":"It builds proteins."}`)},
		{"chat.feedback", env(KindChatFeedback, `{"message_id":"m-9002","rating":-1,"comment":"Too short."}`)},
		{"quiz.completed", env(KindQuizCompleted, `{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":"att-88","score":7,"max_score":10,
			"pass_percent":60,"started_at":"2025-03-14T09:00:00Z","finished_at":"2025-03-14T09:12:30Z",
			"questions":[{"id":"q1","type":"choice","prompt":"Which organelle makes proteins?","response":"b","correct":true},
				{"id":"q2","type":"true-false","prompt":"Plant cells have walls.","response":"true","correct":true}]}`)},
	}
	ctx := context.Background()
	s := testSettings()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			n := New(discardState{}, fixedClock(b, defaultNow))
			buf := make([]byte, 0, 4096)
			statements := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ev := c.ev
				ev.ID = "evt-" + strconv.Itoa(i)
				sts, err := n.Normalize(ctx, s, ev)
				if err != nil {
					b.Fatal(err)
				}
				for _, st := range sts {
					if buf, err = xapi.Append(buf[:0], st, xapi.V200); err != nil {
						b.Fatal(err)
					}
				}
				statements = len(sts)
			}
			b.ReportMetric(float64(statements), "statements/op")
		})
	}
}
