package normalize_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func ExampleNormalizer_Normalize() {
	n := normalize.New(normalize.NewMemoryState(), time.Now)
	settings := normalize.DefaultSettings()
	settings.BaseIRI = "https://acme.learningflow.example"

	ev := normalize.Event{
		ID: "evt-000123", Org: "acme", Kind: normalize.KindQuizCompleted, Time: "2025-03-14T09:12:30Z",
		User: &normalize.User{ID: "u-1842"},
		Payload: json.RawMessage(`{"quiz_id": "qz-5", "score": 7, "max_score": 10, "pass_percent": 60,
			"started_at": "2025-03-14T09:00:00Z", "finished_at": "2025-03-14T09:12:30Z"}`),
	}
	sts, err := n.Normalize(context.Background(), settings, ev)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range sts {
		b, _ := xapi.Marshal(st, xapi.V103)
		fmt.Println(string(b))
	}
	// Output:
	// {"id":"6cd574c1-f898-5972-819d-7cd076ed1040","actor":{"objectType":"Agent","account":{"homePage":"https://acme.learningflow.example","name":"u-1842"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed","display":{"en-US":"passed"}},"object":{"objectType":"Activity","id":"https://acme.learningflow.example/quizzes/qz-5","definition":{"type":"http://adlnet.gov/expapi/activities/assessment"}},"result":{"score":{"scaled":0.7,"raw":7,"min":0,"max":10},"success":true,"completion":true,"duration":"PT12M30S"},"context":{"registration":"a04086b8-10f8-5980-a562-86a6f73ac575","platform":"LearningFlow"},"timestamp":"2025-03-14T09:12:30.000Z"}
}

func ExampleEventError() {
	n := normalize.New(nil, nil)
	settings := normalize.DefaultSettings()
	settings.BaseIRI = "https://acme.learningflow.example"

	ev := normalize.Event{
		ID: "evt-000124", Org: "acme", Kind: normalize.KindQuizCompleted,
		User:    &normalize.User{ID: "u-1842"},
		Payload: json.RawMessage(`{"quiz_id": "qz-5", "score": "7", "max_score": 10}`),
	}
	_, err := n.Normalize(context.Background(), settings, ev)
	var ee *normalize.EventError
	if errors.As(err, &ee) {
		fmt.Println(ee.Kind, ee.Field)
		fmt.Println(err)
	}
	// Output:
	// invalid event payload.score
	// event "evt-000124": payload.score: want a number, got a string
}
