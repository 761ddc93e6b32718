// Package normalize turns LearningFlow events into valid xAPI statements.
//
// The host calls [Normalizer.Normalize] once per [Event] with the org's
// [Settings]. Each kind of event has its own normalizer; all build on the
// shape common to LearningFlow statements:
//
//   - actor: by the org's identity policy, an account whose homePage is the
//     org's base IRI and whose name is the LearningFlow user id (the
//     default), "mailto:" + email, or the SHA-1 of that mailto IRI; the
//     user's name only when the org sends names;
//   - id: a UUIDv5 in [xapi.NamespaceStatement] of org, event id and the
//     statement's position in the event, joined by NUL characters (which
//     are therefore refused inside those ids);
//   - timestamp: in UTC with milliseconds;
//   - context.registration: the event's, or a UUIDv5 of org, user and
//     assignment;
//   - context.platform (only when the object is an activity) and
//     context.language (the course language);
//   - contextActivities.grouping: the course and the assignment, as
//     activities under the org's base IRI.
//
// Every statement is validated for both xAPI 1.0.3 and 2.0.0 before it is
// returned. A refused event yields an [*EventError] naming the event, the
// field and the problem, and nothing else: no statements, no saved state.
//
// # Activity ids
//
// LearningFlow activities live under the org's base IRI, each id segment
// path-escaped ("conv 3/1" becomes "conv%203%2F1"):
//
//	<base>/courses/<course>              course (grouping)
//	<base>/assignments/<assignment>      assignment (grouping, no type)
//	<base>/quizzes/<quiz>                quiz (assessment)
//	<base>/quizzes/<quiz>/questions/<q>  question (cmi.interaction)
//	<base>/quizzes/<quiz>/attempts/<a>   quiz attempt (grouping)
//	<base>/scorm/<package>/<sco>         SCO (lesson)
//	<base>/scorm/<package>/<sco>/interactions/<id>
//	<base>/scorm/<package>/<sco>?attemptId=<uuid>   SCORM attempt (grouping)
//	<base>/chat/<conversation>           conversation (chat-channel)
//	<base>/chat/<conversation>/messages/<message>   message (chat-message)
//
// Content activities (H5P content URLs, Storyline ids) are kept as the
// content gave them. Titles become names in the course language, or "und"
// when the course has none.
//
// # Time and determinism
//
// Normalizing the same event again gives byte-identical statements when the
// event carries its time (for SCORM calls, see below). An event without a time takes the arrival time
// (the now function given to [New]), so re-sending such an event gives the
// same ids but a different timestamp; the LRS may then answer 409 to the
// re-sent statements, which the host treats as already stored. Two kinds
// prefer times of their own: quiz.completed without an event time uses the
// payload's finished_at, and xapi.statement keeps each package statement's
// valid timestamp. Event times more than five minutes in the future are
// refused; package and SCORM timestamps in the future give way to the event
// time.
//
// # Decisions per kind
//
// Content statements (h5p.statement, xapi.statement) are cleaned of empty
// language maps and empty lists rather than refused for them.
//
// # Repairs of content statements
//
// A statement from H5P or an xAPI package is not refused for an invalid
// optional property: the property is repaired or dropped, the statement
// kept, and the repair reported in [Prepared.Repairs] (rule and field) for
// the host to count and log. Only what has no meaning without the property
// (verb, object, an activity id, JSON the decoder cannot read) refuses the
// event. The rules, applied to the statement, its sub-statement and every
// activity in them (object and context activities):
//
//   - interaction-type-unknown: an interactionType outside the xAPI
//     vocabulary is dropped, with the correct responses and the component
//     lists, which cannot be read without it (as for SCORM);
//   - interaction-components-not-allowed: a component list the interaction
//     type does not allow, or correctResponsesPattern without an
//     interactionType, is dropped;
//   - interaction-component-ids-invalid: a component list with an empty,
//     repeated or white-space id is dropped;
//   - language-tag-invalid: a language map entry (verb display, names,
//     descriptions) whose key is not an RFC 5646 tag is dropped, as is an
//     invalid context.language (the course language then applies);
//   - activity-type-invalid, more-info-invalid: a definition type that is
//     not an absolute IRI, a moreInfo that is not an IRL, are dropped;
//   - score-scaled-out-of-range: a scaled score outside [-1, 1] is dropped;
//   - score-range-invalid: min and max are dropped when min >= max or raw
//     lies outside them (raw is kept);
//   - duration-invalid: a result duration that is not an ISO 8601
//     duration is dropped;
//   - context-activity-only: context.platform and context.revision are
//     dropped when the object is not an activity.
//
// A result left empty by the repairs is dropped.
//
// h5p.statement: the actor, id and timestamp H5P sent are replaced (the
// browser's actor is forgeable); stored, authority and version are dropped;
// everything else is parsed strictly, so unknown keys are refused. The
// toolbar verbs H5P puts into the ADL namespace (downloaded, copied,
// accessed-*) are dropped: the event yields no statement and no error.
// Events whose object is not an activity with an id (editor previews) are
// refused. The HTML H5P puts into the activity's name, description and
// choice descriptions is turned into plain text (tags removed, character
// references decoded, white space folded), since language map values are
// plain text. Interacted statements are not throttled.
//
// xapi.statement: per package statement, the actor (including legacy
// array-valued actors, removed before parsing), stored, authority and
// version are dropped and LearningFlow's actor and registration forced;
// verb, object, result, context activities, extensions, platform and
// language are kept, and missing platform, language and course grouping are
// added. A valid UUID id is kept (in lower case), any other id replaced by
// the derived one; two statements with the same id refuse the event. A
// timestamp that is missing, invalid (including zoneless and "-00:00") or
// in the future becomes the event time. Voiding statements refuse the event
// with [ErrVoiding]. Attachments without fileUrl are refused, as their data
// is not forwarded.
//
// scorm.runtime: state is kept per attempt (org, user, package, SCO and
// LearningFlow attempt id) in the [StateStore] and statements describe only
// what changed since the last call. The host queues a call's statements
// before the state is saved ([Normalizer.Prepare], [Prepared.Commit]); a
// call whose queueing failed leaves the state untouched ([Prepared.Abort]),
// so re-sending it later, after any other calls, yields its statements. A
// handled call re-sent is recognised by its event id: one among the last 4
// calls that yielded statements yields the same statements again, byte for
// byte (the LRS recognises them by id), any other among the last 64 calls
// yields nothing; calls that yielded nothing do not push the 4 out. The
// state of one attempt is bounded (1 MiB): the replayable statements give
// way first, then the call is refused. The
// xAPI attempt id is a UUIDv5 of the attempt, so a resumed
// session keeps it. Per call, in this order: initialized, or resumed when
// entry is "resume" (Initialize only); one statement per interaction that
// is new or changed, by index, once it has a response or a result (the
// interaction's own timestamp when it has a zone and is not later than the
// call); completed, once per attempt; passed or failed when the success
// status changes, with the score; otherwise scored when the score changed;
// and on Terminate, suspended (exit "suspend") or terminated (any other
// exit) with the session time as duration, completion (true for completed,
// false for incomplete), success, score and the cmi5 progress extension
// from progress_measure. SCORM 1.2 passed implies completion: it is
// reported as passed with completion true, without a separate completed.
// Unknown interaction types are left out of the definition together with
// the correct responses, rather than refusing the call. CMI numbers must be
// decimals (as strings or JSON numbers); statuses must be values of the
// standard; 1.2 times are HHHH:MM:SS.SS (ISO 8601 is accepted too). A 2004
// scaled score outside [-1, 1] refuses the call; min and max are dropped
// unless both are given, min < max and raw lies between them; a 1.2 scaled
// score is (raw-min)/(max-min), or raw/100 without min and max, and is left
// out when outside [-1, 1].
//
// chat.message, chat.reply, chat.feedback: the ids of the asked and
// responded statements are UUIDv5s of org, role and message id, not of the
// event id, so that a reply can refer to its question and feedback to its
// reply knowing only message ids (which must be unique within the org).
// The reply's actor is the bot as an agent of its own (account
// "chatbot:<bot_id>" on the base IRI); its object is a StatementRef, so it
// has no platform; in_reply_to is required. A reply without a user gets no
// derived registration, as it could not match the learner's. The reply's
// own message appears as an "other" context activity. Feedback refers to
// the reply with a StatementRef and carries the rating in the result
// extension <base>/xapi/extensions/rating; feedback with neither rating nor
// comment is refused. The chat text policy applies to message, reply and
// comment text; "truncate" keeps the first N code points without marker.
//
// quiz.completed: passed or failed when pass_percent is given (met when
// (score-min)*100 >= pass_percent*(max-min), so 6 of 10 meets 60), else
// completed; the score has min 0 (or the optional min_score), scaled
// (raw-min)/(max-min); a score outside [min, max], max <= min and
// pass_percent outside [0, 100] refuse the event. The duration is
// finished_at - started_at when both are given. One answered statement per
// question comes first, with the quiz as parent; a response may be a
// string or a list of strings (joined with "[,]"); type must be an xAPI
// interaction type.
package normalize
