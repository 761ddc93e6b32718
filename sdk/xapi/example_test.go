package xapi_test

import (
	"fmt"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Checking a statement before it leaves: every problem, with its path.
func Example() {
	in := []byte(`{
		"actor": {"mbox": "mailto:undefined"},
		"verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "Display": {"en-US": "answered"}},
		"object": {"id": "http://example.com/quiz/q1",
			"definition": {"interactionType": "choice", "choices": [{"id": "a"}, {"id": "a"}]}},
		"result": {"success": "true", "score": {"scaled": 1.5}}
	}`)
	_, problems := xapi.Check(in, xapi.V103)
	for _, p := range problems {
		fmt.Printf("%s: %s\n", p.Path, p.Rule)
	}
	// Output:
	// verb.Display: unknown-key
	// result.success: json-type
	// actor.mbox: mailto
	// object.definition.choices[1].id: component-id
	// result.score.scaled: score-scaled
}

// Building a statement in code and encoding it canonically: a retried
// statement is byte-identical.
func ExampleMarshal() {
	scaled, raw, lo, hi := 0.7, 7.0, 0.0, 10.0
	passed := true
	took := xapi.DurationOf(12*time.Minute + 30*time.Second)
	st := &xapi.Statement{
		ID:     xapi.MustUUIDv5(xapi.NamespaceStatement, "acme/evt-000123/0"),
		Actor:  xapi.Actor{Account: &xapi.Account{HomePage: "https://acme.learningflow.example", Name: "u-1842"}},
		Verb:   xapi.Verb{ID: "http://adlnet.gov/expapi/verbs/passed", Display: xapi.LanguageMap{"en-US": "passed"}},
		Object: &xapi.Activity{ID: "https://acme.learningflow.example/quizzes/qz-5"},
		Result: &xapi.Result{
			Score:    &xapi.Score{Scaled: &scaled, Raw: &raw, Min: &lo, Max: &hi},
			Success:  &passed,
			Duration: &took,
		},
		Timestamp: time.Date(2025, 3, 14, 10, 12, 30, 0, time.FixedZone("CET", 3600)),
	}
	if problems := xapi.Validate(st, xapi.V103); len(problems) > 0 {
		fmt.Println(problems)
		return
	}
	out, err := xapi.Marshal(st, xapi.V103)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"id":"cda92690-12c1-5259-b929-2715c78fb33b","actor":{"objectType":"Agent","account":{"homePage":"https://acme.learningflow.example","name":"u-1842"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed","display":{"en-US":"passed"}},"object":{"objectType":"Activity","id":"https://acme.learningflow.example/quizzes/qz-5"},"result":{"score":{"scaled":0.7,"raw":7,"min":0,"max":10},"success":true,"duration":"PT12M30S"},"timestamp":"2025-03-14T09:12:30.000Z"}
}

// Durations in the canonical form xAPI compares.
func ExampleParseDuration() {
	for _, s := range []string{"PT16559.14S", "P4W", "P4W1D"} {
		d, err := xapi.ParseDuration(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(d)
	}
	// Output:
	// PT4H35M59.14S
	// P4W
	// error: duration "P4W1D": weeks cannot be combined with other parts
}
