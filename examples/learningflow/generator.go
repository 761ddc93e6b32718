package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/host"
)

// generator makes realistic LearningFlow events: H5P interactions, SCORM
// 1.2 and 2004 runtime sequences, Storyline statements, chatbot
// conversations and quiz completions, by several learners of several
// organizations. Sequences (a SCORM attempt, a conversation) are spread over
// several events and interleaved with others, as in a real platform. It is
// deterministic for a seed and a clock; it is not safe for concurrent use.
type generator struct {
	rng    *rand.Rand
	now    func() time.Time
	prefix string // makes event, attempt and conversation ids unique per run
	orgs   []genOrg
	seq    int // events made
	ids    int // other ids made
	active []*session
}

// genOrg is an organization the generator makes events for.
type genOrg struct {
	id       string
	domain   string
	learners []host.User
}

// session is a sequence of events still to be emitted, in order.
type session struct {
	events []host.Event
}

type genCourse struct {
	id, title, lang string
}

var genCourses = []genCourse{
	{"c-77", "Biology 101", "en"},
	{"c-12", "Workplace Safety", "en"},
	{"c-31", "Einführung in die Statistik", "de"},
	{"c-45", "Customer Conversations", "en-GB"},
}

var learnerNames = []string{
	"Jane Doe", "Omar Haddad", "Mei Chen", "Lukas Novak", "Priya Raman", "Carlos Mendes",
	"Aisha Bello", "Sven Lindqvist", "Yuki Tanaka", "Fatima Zahra",
}

// newGenerator returns a generator for orgs (organization id to e-mail
// domain of its learners), seeded with seed. Ids start with prefix.
func newGenerator(orgs []genOrg, seed uint64, prefix string, now func() time.Time) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: now, prefix: prefix}
	for k, o := range orgs {
		if len(o.learners) == 0 {
			for i := range 6 {
				name := learnerNames[(4*k+i)%len(learnerNames)]
				first, last, _ := strings.Cut(strings.ToLower(name), " ")
				o.learners = append(o.learners, host.User{
					ID:    fmt.Sprintf("u-%d", 1000+100*k+i),
					Email: first + "." + last + "@" + o.domain,
					Name:  name,
				})
			}
		}
		g.orgs = append(g.orgs, o)
	}
	return g
}

// demoOrgs are the organizations of the embedded demo configuration.
var demoOrgs = []genOrg{
	{id: "acme", domain: "acme.example"},
	{id: "beacon", domain: "beacon-school.example"},
}

// Next returns the next event.
func (g *generator) Next() host.Event {
	if len(g.active) < 4 || g.rng.IntN(4) == 0 {
		g.active = append(g.active, g.newSession())
	}
	i := g.rng.IntN(len(g.active))
	s := g.active[i]
	ev := s.events[0]
	s.events = s.events[1:]
	if len(s.events) == 0 {
		g.active = append(g.active[:i], g.active[i+1:]...)
	}
	ev.ID = fmt.Sprintf("%s-%06d", g.prefix, g.seq)
	g.seq++
	ev.Time = g.now().UTC().Format(time.RFC3339Nano)
	return ev
}

// newSession starts a sequence of a random kind for a random learner.
func (g *generator) newSession() *session {
	o := g.orgs[g.rng.IntN(len(g.orgs))]
	u := o.learners[g.rng.IntN(len(o.learners))]
	c := genCourses[g.rng.IntN(len(genCourses))]
	base := host.Event{
		Org:        o.id,
		User:       &host.User{ID: u.ID, Email: u.Email, Name: u.Name},
		Course:     &host.Course{ID: c.id, Title: c.title, Lang: c.lang},
		Assignment: &host.Assignment{ID: "as-" + strconv.Itoa(1+g.rng.IntN(6)), Title: "Week " + strconv.Itoa(1+g.rng.IntN(12))},
	}
	var evs []host.Event
	switch n := g.rng.IntN(100); {
	case n < 20:
		evs = g.h5p(base)
	case n < 35:
		evs = g.scorm12(base)
	case n < 50:
		evs = g.scorm2004(base)
	case n < 65:
		evs = g.storyline(base)
	case n < 85:
		evs = g.chat(base)
	default:
		evs = g.quiz(base)
	}
	return &session{events: evs}
}

// with returns a copy of base with kind and payload set.
func with(base host.Event, kind string, payload any) host.Event {
	ev := base
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err) // payloads are plain maps and slices
	}
	ev.Kind, ev.Payload = kind, b
	return ev
}

func (g *generator) uid() string {
	g.ids++
	return g.prefix + "-" + strconv.Itoa(g.ids)
}

type obj = map[string]any

// h5p: answering an H5P multiple choice and completing the content, as H5P
// emits them in the browser (with H5P's own placeholder actor).
func (g *generator) h5p(base host.Event) []host.Event {
	contentID := 10 + g.rng.IntN(30)
	iri := fmt.Sprintf("https://%s.learningflow.example/h5p/embed/%d", base.Org, contentID)
	choices := []string{"Mitochondrion", "Cell wall", "Ribosome", "Nucleus"}
	var defs []obj
	for i, c := range choices {
		defs = append(defs, obj{"id": strconv.Itoa(i), "description": obj{"en-US": c + "\n"}})
	}
	correct := g.rng.IntN(2) == 0
	response := "0[,]3"
	raw := 2
	if !correct {
		response = "0[,]2"
		raw = 1
	}
	secs := 3 + g.rng.Float64()*40
	answered := obj{
		"actor": obj{"name": base.User.Name, "mbox": "mailto:undefined", "objectType": "Agent"},
		"verb":  obj{"id": "http://adlnet.gov/expapi/verbs/answered", "display": obj{"en-US": "answered"}},
		"object": obj{"id": iri, "objectType": "Activity", "definition": obj{
			"extensions":              obj{"http://h5p.org/x-api/h5p-local-content-id": contentID},
			"name":                    obj{"en-US": "Cells"},
			"description":             obj{"en-US": "<p>Which are organelles?</p>\n"},
			"type":                    "http://adlnet.gov/expapi/activities/cmi.interaction",
			"interactionType":         "choice",
			"correctResponsesPattern": []string{"0[,]3"},
			"choices":                 defs,
		}},
		"context": obj{"contextActivities": obj{"category": []obj{{"id": "http://h5p.org/libraries/H5P.MultiChoice-1.16", "objectType": "Activity"}}}},
		"result": obj{"score": obj{"min": 0, "max": 2, "raw": raw, "scaled": float64(raw) / 2}, "completion": true,
			"success": correct, "duration": fmt.Sprintf("PT%.2fS", secs), "response": response},
	}
	completed := obj{
		"actor": obj{"name": base.User.Name, "mbox": "mailto:undefined", "objectType": "Agent"},
		"verb":  obj{"id": "http://adlnet.gov/expapi/verbs/completed", "display": obj{"en-US": "completed"}},
		"object": obj{"id": iri, "objectType": "Activity", "definition": obj{
			"extensions": obj{"http://h5p.org/x-api/h5p-local-content-id": contentID},
			"name":       obj{"en-US": "Cells"},
		}},
		"result": obj{"score": obj{"min": 0, "max": 2, "raw": raw, "scaled": float64(raw) / 2}, "completion": true, "success": correct,
			"duration": fmt.Sprintf("PT%.2fS", secs+2)},
	}
	return []host.Event{
		with(base, "h5p.statement", obj{"statement": answered}),
		with(base, "h5p.statement", obj{"statement": completed}),
	}
}

// scorm12: a SCORM 1.2 attempt: LMSInitialize, a commit with two answered
// interactions, and LMSFinish with the lesson status and score.
func (g *generator) scorm12(base host.Event) []host.Event {
	attempt := "att-" + g.uid()
	pkg := fmt.Sprintf("pkg-%d", 1+g.rng.IntN(9))
	payload := func(call string, core obj, interactions []obj) obj {
		cmi := obj{"core": core}
		if interactions != nil {
			cmi["interactions"] = interactions
		}
		return obj{"version": "1.2", "package_id": pkg, "sco_id": "sco-1", "attempt_id": attempt, "call": call, "cmi": cmi}
	}
	raw := 40 + g.rng.IntN(61)
	status := "passed"
	if raw < 70 {
		status = "failed"
	}
	inter := []obj{
		{"id": "q1", "type": "choice", "student_response": "b", "result": "correct",
			"correct_responses": []obj{{"pattern": "b"}}, "latency": "0000:00:12.50"},
		{"id": "q2", "type": "true-false", "student_response": "t", "result": map[bool]string{true: "correct", false: "wrong"}[raw >= 70],
			"correct_responses": []obj{{"pattern": "t"}}},
	}
	mins := 5 + g.rng.IntN(40)
	return []host.Event{
		with(base, "scorm.runtime", payload("Initialize", obj{"entry": "ab-initio", "lesson_status": "not attempted"}, nil)),
		with(base, "scorm.runtime", payload("Commit", obj{"lesson_status": "incomplete"}, inter)),
		with(base, "scorm.runtime", payload("Terminate", obj{"lesson_status": status, "exit": "",
			"score":        obj{"raw": strconv.Itoa(raw), "min": "0", "max": "100"},
			"session_time": fmt.Sprintf("0000:%02d:%02d.00", mins, g.rng.IntN(60))}, inter)),
	}
}

// scorm2004: a SCORM 2004 attempt: Initialize, a commit with progress and
// an interaction, a commit with completion, success and score, and
// Terminate.
func (g *generator) scorm2004(base host.Event) []host.Event {
	attempt := "att-" + g.uid()
	pkg := fmt.Sprintf("pkg-%d", 10+g.rng.IntN(9))
	payload := func(call string, cmi obj) obj {
		return obj{"version": "2004", "package_id": pkg, "sco_id": "intro", "attempt_id": attempt, "call": call, "cmi": cmi}
	}
	pct := 30 + g.rng.IntN(71)
	scaled := float64(pct) / 100
	success := "passed"
	if scaled < 0.6 {
		success = "failed"
	}
	inter := []obj{{"id": "sort-steps", "type": "sequencing", "description": "Put the steps in order",
		"learner_response": "wash[,]rinse[,]dry", "result": "correct",
		"correct_responses": []obj{{"pattern": "wash[,]rinse[,]dry"}}, "latency": "PT21S"}}
	return []host.Event{
		with(base, "scorm.runtime", payload("Initialize", obj{"entry": "ab-initio", "completion_status": "unknown"})),
		with(base, "scorm.runtime", payload("Commit", obj{"completion_status": "incomplete", "progress_measure": "0.5", "interactions": inter})),
		with(base, "scorm.runtime", payload("Commit", obj{"completion_status": "completed", "success_status": success, "progress_measure": "1",
			"score":        obj{"scaled": strconv.FormatFloat(scaled, 'f', 2, 64), "raw": strconv.Itoa(pct), "min": "0", "max": "100"},
			"interactions": inter})),
		with(base, "scorm.runtime", payload("Terminate", obj{"completion_status": "completed", "success_status": success, "exit": "normal",
			"session_time": fmt.Sprintf("PT%dM%dS", 3+g.rng.IntN(50), g.rng.IntN(60))})),
	}
}

// storyline: an Articulate Storyline course sending its own statements:
// slides experienced, a question answered, then passed or failed.
func (g *generator) storyline(base host.Event) []host.Event {
	course := "urn:articulate:storyline:" + []string{"5Ujw93Dh98n", "6aQ2kPz81Lm", "7bYt4WcR0Xe"}[g.rng.IntN(3)]
	actor := obj{"objectType": "Agent", "name": base.User.Name, "mbox": "mailto:" + base.User.Email}
	slide := func(n int) obj {
		return obj{"actor": actor,
			"verb":    obj{"id": "http://adlnet.gov/expapi/verbs/experienced", "display": obj{"und": "experienced"}},
			"object":  obj{"id": fmt.Sprintf("%s/slide%d", course, n), "objectType": "Activity", "definition": obj{"name": obj{"und": fmt.Sprintf("Slide %d", n)}, "type": "http://adlnet.gov/expapi/activities/module"}},
			"context": obj{"contextActivities": obj{"parent": []obj{{"id": course, "objectType": "Activity"}}}},
		}
	}
	right := g.rng.IntN(3) > 0
	answered := obj{"actor": actor,
		"verb": obj{"id": "http://adlnet.gov/expapi/verbs/answered", "display": obj{"und": "answered"}},
		"object": obj{"id": course + "/quiz/q1", "objectType": "Activity", "definition": obj{
			"type": "http://adlnet.gov/expapi/activities/cmi.interaction", "interactionType": "true-false", "correctResponsesPattern": []string{"true"}}},
		"result": obj{"success": right, "response": strconv.FormatBool(right), "duration": fmt.Sprintf("PT%dS", 5+g.rng.IntN(30))},
	}
	verb := "passed"
	if !right {
		verb = "failed"
	}
	raw := 50 + g.rng.IntN(51)
	final := obj{"actor": actor,
		"verb":    obj{"id": "http://adlnet.gov/expapi/verbs/" + verb, "display": obj{"und": verb}},
		"object":  obj{"id": course, "objectType": "Activity", "definition": obj{"name": obj{"und": "Safety Essentials"}, "type": "http://adlnet.gov/expapi/activities/course"}},
		"result":  obj{"score": obj{"scaled": float64(raw) / 100, "raw": raw, "min": 0, "max": 100}, "success": right, "completion": true},
		"context": obj{"platform": "Articulate Storyline", "language": "en-US"},
	}
	return []host.Event{
		with(base, "xapi.statement", obj{"statements": []obj{slide(1), slide(2)}}),
		with(base, "xapi.statement", obj{"statements": []obj{slide(3), answered}}),
		with(base, "xapi.statement", obj{"statements": []obj{final}}),
	}
}

var chatTurns = [][2]string{
	{"What does a ribosome do?", "A ribosome reads messenger RNA and builds proteins from amino acids."},
	{"When do I need safety goggles?", "Wear them whenever you work with liquids, dust or flying particles, and in every lab session."},
	{"Was ist der Median?", "Der Median ist der mittlere Wert einer sortierten Liste."},
	{"How do I calm an upset customer?", "Listen first, acknowledge the problem, then say what you will do and by when."},
}

// chat: a learner's question to the chatbot, its reply and, often, the
// learner's rating of the reply.
func (g *generator) chat(base host.Event) []host.Event {
	conv := "conv-" + g.uid()
	q, r := "m-"+g.uid(), "m-"+g.uid()
	turn := chatTurns[g.rng.IntN(len(chatTurns))]
	reply := base
	reply.Assignment = nil
	evs := []host.Event{
		with(base, "chat.message", obj{"conversation_id": conv, "message_id": q, "text": turn[0]}),
		with(reply, "chat.reply", obj{"conversation_id": conv, "message_id": r, "in_reply_to": q, "bot_id": "tutor-v2", "text": turn[1]}),
	}
	if g.rng.IntN(3) > 0 {
		fb := obj{"message_id": r, "rating": []int{-1, 1, 1}[g.rng.IntN(3)]}
		if g.rng.IntN(2) == 0 {
			fb["comment"] = "Thanks, that helped."
		}
		evs = append(evs, with(base, "chat.feedback", fb))
	}
	return evs
}

// quiz: a LearningFlow quiz completed with its questions.
func (g *generator) quiz(base host.Event) []host.Event {
	finished := g.now().UTC()
	started := finished.Add(-time.Duration(60+g.rng.IntN(1200)) * time.Second)
	qs := []obj{
		{"id": "q1", "type": "choice", "prompt": "Which organelle makes proteins?", "response": "b", "correct": g.rng.IntN(4) > 0},
		{"id": "q2", "type": "true-false", "prompt": "Plant cells have walls.", "response": "true", "correct": g.rng.IntN(4) > 0},
		{"id": "q3", "type": "choice", "prompt": "Which are organelles?", "response": []string{"a", "c"}, "correct": g.rng.IntN(2) > 0},
	}
	score := 0
	for _, q := range qs {
		if q["correct"] == true {
			score += 5
		}
	}
	return []host.Event{with(base, "quiz.completed", obj{
		"quiz_id": "qz-" + strconv.Itoa(1+g.rng.IntN(9)), "title": "Check your understanding", "attempt_id": "att-" + g.uid(),
		"score": score, "max_score": 15, "pass_percent": 60,
		"started_at": started.Format(time.RFC3339), "finished_at": finished.Format(time.RFC3339),
		"questions": qs,
	})}
}
