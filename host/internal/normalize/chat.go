package normalize

import (
	"encoding/json"
	"strconv"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// chatMessageID returns the statement id of a chat message: derived from the
// org, the role ("asked" or "responded") and the message id, so that a reply
// can refer to the question and feedback to the reply without knowing the
// event ids that carried them.
func (j *job) chatMessageID(role, messageID string) string {
	return j.uuid(j.ev.Org, "chat", role, messageID)
}

// chatText applies the org's chat text policy to text.
func (j *job) chatText(text string) *string {
	if text == "" || j.s.ChatText == ChatTextDrop {
		return nil
	}
	if j.s.ChatText == ChatTextTruncate {
		n := 0
		for i := range text {
			if n == j.s.ChatTruncate {
				text = text[:i]
				break
			}
			n++
		}
	}
	return &text
}

// chatResult returns a result holding the text under the chat text policy,
// or nil when there is none.
func (j *job) chatResult(text string) *xapi.Result {
	if r := j.chatText(text); r != nil {
		return &xapi.Result{Response: r}
	}
	return nil
}

// conversation returns the conversation activity.
// messageActivity is the activity of one message of a conversation.
func (j *job) messageActivity(conv, msg string) *xapi.Activity {
	return &xapi.Activity{ID: j.iri("chat", conv, "messages", msg), Definition: &xapi.ActivityDefinition{Type: typeChatMessage}}
}

func (j *job) conversation(conv string) xapi.Activity {
	return xapi.Activity{ID: j.iri("chat", conv), Definition: &xapi.ActivityDefinition{Type: typeChatChannel}}
}

// chatMessage: the learner asked the chatbot.
func (j *job) chatMessage() ([]out, error) {
	p, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	conv, err := p.id("conversation_id")
	if err != nil {
		return nil, err
	}
	msg, err := p.id("message_id")
	if err != nil {
		return nil, err
	}
	text, err := p.str("text", false)
	if err != nil {
		return nil, err
	}
	actor, err := j.learner()
	if err != nil {
		return nil, err
	}
	ctx := j.context(true)
	if ctx.ContextActivities == nil {
		ctx.ContextActivities = new(xapi.ContextActivities)
	}
	ctx.ContextActivities.Parent = []xapi.Activity{j.conversation(conv)}
	st := &xapi.Statement{
		ID:        j.chatMessageID("asked", msg),
		Actor:     actor,
		Verb:      verb("asked"),
		Object:    j.messageActivity(conv, msg),
		Result:    j.chatResult(text),
		Context:   ctx,
		Timestamp: j.at,
	}
	return []out{{st: st}}, nil
}

// chatReply: the chatbot, as its own agent, responded to a learner's
// message.
func (j *job) chatReply() ([]out, error) {
	p, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	conv, err := p.id("conversation_id")
	if err != nil {
		return nil, err
	}
	msg, err := p.id("message_id")
	if err != nil {
		return nil, err
	}
	inReplyTo, err := p.id("in_reply_to")
	if err != nil {
		return nil, err
	}
	bot, err := p.id("bot_id")
	if err != nil {
		return nil, err
	}
	text, err := p.str("text", false)
	if err != nil {
		return nil, err
	}
	ctx := j.context(false)
	if ctx.ContextActivities == nil {
		ctx.ContextActivities = new(xapi.ContextActivities)
	}
	ctx.ContextActivities.Parent = []xapi.Activity{j.conversation(conv)}
	ctx.ContextActivities.Other = []xapi.Activity{*j.messageActivity(conv, msg)}
	st := &xapi.Statement{
		ID: j.chatMessageID("responded", msg),
		Actor: xapi.Actor{
			ObjectType: xapi.ObjectTypeAgent,
			Account:    &xapi.Account{HomePage: j.s.BaseIRI, Name: "chatbot:" + bot},
		},
		Verb:      verb("responded"),
		Object:    &xapi.StatementRef{ID: j.chatMessageID("asked", inReplyTo)},
		Result:    j.chatResult(text),
		Context:   ctx,
		Timestamp: j.at,
	}
	return []out{{st: st}}, nil
}

// chatFeedback: the learner rated or commented on a reply.
func (j *job) chatFeedback() ([]out, error) {
	p, err := j.object(j.ev.Payload, "payload")
	if err != nil {
		return nil, err
	}
	msg, err := p.id("message_id")
	if err != nil {
		return nil, err
	}
	rating, hasRating, err := p.num("rating", false)
	if err != nil {
		return nil, err
	}
	comment, err := p.str("comment", false)
	if err != nil {
		return nil, err
	}
	if !hasRating && comment == "" {
		return nil, j.failErr("payload", errEmpty)
	}
	actor, err := j.learner()
	if err != nil {
		return nil, err
	}
	res := j.chatResult(comment)
	if hasRating {
		if res == nil {
			res = new(xapi.Result)
		}
		res.Extensions = xapi.Extensions{
			j.iri("xapi", "extensions", "rating"): json.RawMessage(strconv.FormatFloat(rating, 'g', -1, 64)),
		}
	}
	st := &xapi.Statement{
		Actor:     actor,
		Verb:      verb("commented"),
		Object:    &xapi.StatementRef{ID: j.chatMessageID("responded", msg)},
		Result:    res,
		Context:   j.context(false),
		Timestamp: j.at,
	}
	return []out{{st: st}}, nil
}
