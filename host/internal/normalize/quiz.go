package normalize

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// quiz: a LearningFlow quiz finished. One answered statement per question,
// then passed, failed or completed for the quiz.
func (j *job) quiz() ([]out, error) {
	p, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	quizID, err := p.id("quiz_id")
	if err != nil {
		return nil, err
	}
	title, err := p.str("title", false)
	if err != nil {
		return nil, err
	}
	attemptID, err := p.str("attempt_id", false)
	if err != nil {
		return nil, err
	}
	raw, _, err := p.num("score", true)
	if err != nil {
		return nil, err
	}
	maxScore, _, err := p.num("max_score", true)
	if err != nil {
		return nil, err
	}
	minScore, _, err := p.num("min_score", false)
	if err != nil {
		return nil, err
	}
	if maxScore <= minScore {
		return nil, j.fail("payload.max_score", "must be greater than the minimum score %s", fmtNum(minScore))
	}
	if raw < minScore || raw > maxScore {
		return nil, j.fail("payload.score", "%s is outside [%s, %s]", fmtNum(raw), fmtNum(minScore), fmtNum(maxScore))
	}
	passPercent, hasPass, err := p.num("pass_percent", false)
	if err != nil {
		return nil, err
	}
	if hasPass && (passPercent < 0 || passPercent > 100) {
		return nil, j.fail("payload.pass_percent", "%s is outside [0, 100]", fmtNum(passPercent))
	}
	started, hasStart, err := p.timestamp("started_at")
	if err != nil {
		return nil, err
	}
	finished, hasFinish, err := p.timestamp("finished_at")
	if err != nil {
		return nil, err
	}
	var dur *xapi.Duration
	if hasStart && hasFinish {
		if finished.Before(started) {
			return nil, j.fail("payload.finished_at", "before started_at")
		}
		dur = ptr(xapi.DurationOf(finished.Sub(started)))
	}
	at := j.at
	if !j.hasTime && hasFinish {
		at = finished.Truncate(time.Millisecond)
	}
	questions, err := p.array("questions")
	if err != nil {
		return nil, err
	}
	actor, err := j.learner()
	if err != nil {
		return nil, err
	}

	quizIRI := j.iri("quizzes", quizID)
	var extra []xapi.Activity
	if attemptID != "" {
		if err := checkName(attemptID); err != nil {
			return nil, j.failErr("payload.attempt_id", err)
		}
		extra = append(extra, xapi.Activity{
			ID:         quizIRI + "/attempts/" + pathEscape(attemptID),
			Definition: &xapi.ActivityDefinition{Type: typeAttempt},
		})
	}

	outs := make([]out, 0, len(questions)+1)
	for i, q := range questions {
		st, err := j.question(q, "payload.questions["+strconv.Itoa(i)+"]", quizIRI, extra)
		if err != nil {
			return nil, err
		}
		st.Actor = actor
		st.Timestamp = at
		outs = append(outs, out{st: st})
	}

	// Compare without dividing, so that 6 of 10 meets a pass mark of 60.
	res := &xapi.Result{
		Score: &xapi.Score{
			Scaled: ptr((raw - minScore) / (maxScore - minScore)),
			Raw:    ptr(raw), Min: ptr(minScore), Max: ptr(maxScore),
		},
		Completion: ptr(true),
		Duration:   dur,
	}
	v := verb("completed")
	if hasPass {
		passed := (raw-minScore)*100 >= passPercent*(maxScore-minScore)
		res.Success = ptr(passed)
		if passed {
			v = verb("passed")
		} else {
			v = verb("failed")
		}
	}
	outs = append(outs, out{st: &xapi.Statement{
		Actor: actor,
		Verb:  v,
		Object: &xapi.Activity{ID: quizIRI, Definition: &xapi.ActivityDefinition{
			Name: j.text(title), Type: typeAssessment,
		}},
		Result:    res,
		Context:   j.context(true, extra...),
		Timestamp: at,
	}})
	return outs, nil
}

// question returns the answered statement of one quiz question, without
// actor and timestamp.
func (j *job) question(raw json.RawMessage, path, quizIRI string, extra []xapi.Activity) (*xapi.Statement, error) {
	q, err := j.object(raw, path)
	if err != nil {
		return nil, err
	}
	id, err := q.id("id")
	if err != nil {
		return nil, err
	}
	typ, err := q.str("type", false)
	if err != nil {
		return nil, err
	}
	if typ != "" && !slices.Contains(xapi.InteractionTypes, typ) {
		return nil, j.fail(q.at("type"), "%s is not an xapi interaction type", strconv.Quote(clip(typ)))
	}
	prompt, err := q.str("prompt", false)
	if err != nil {
		return nil, err
	}
	var response *string
	switch v := q.get("response"); jsonKind(v) {
	case 0:
	case '"':
		s, _ := q.str("response", false)
		response = &s
	case '[':
		parts, err := q.array("response")
		if err != nil {
			return nil, err
		}
		strs := make([]string, len(parts))
		for k, part := range parts {
			if jsonKind(part) != '"' || json.Unmarshal(part, &strs[k]) != nil {
				return nil, j.fail(q.at("response")+"["+strconv.Itoa(k)+"]", "want a string, got %s", kindName(jsonKind(part)))
			}
		}
		response = ptr(strings.Join(strs, "[,]"))
	default:
		return nil, j.fail(q.at("response"), "want a string or an array of strings, got %s", kindName(jsonKind(v)))
	}
	correct, err := q.boolean("correct")
	if err != nil {
		return nil, err
	}
	var res *xapi.Result
	if response != nil || correct != nil {
		res = &xapi.Result{Response: response, Success: correct}
	}
	ctx := j.context(true, extra...)
	if ctx.ContextActivities == nil {
		ctx.ContextActivities = new(xapi.ContextActivities)
	}
	ctx.ContextActivities.Parent = []xapi.Activity{{ID: quizIRI, Definition: &xapi.ActivityDefinition{Type: typeAssessment}}}
	return &xapi.Statement{
		Verb: verb("answered"),
		Object: &xapi.Activity{ID: quizIRI + "/questions/" + pathEscape(id), Definition: &xapi.ActivityDefinition{
			Description: j.text(prompt), Type: typeInteraction, InteractionType: typ,
		}},
		Result:  res,
		Context: ctx,
	}, nil
}

// fmtNum formats x for an error message.
func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
