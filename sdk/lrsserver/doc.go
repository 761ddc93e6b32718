// Package lrsserver is the LRS side of xAPI 1.0.3 and 2.0.0: an
// http.Handler that answers the about, statements, activities/state,
// activities/profile, activities, agents/profile and agents resources over
// a Store, as the xAPI specification's Communication part describes.
//
// lrsbridge uses it three times: the development LRS (examples/devlrs),
// the test LRS of the lrs sink (sinks/lrs/lrstest), both over a
// MemoryStore, and the endpoint that launched content (Storyline, Rise,
// cmi5 packages) talks to, in the host, over a durable store. It depends on
// the standard library and sdk/xapi only, so sinks and examples may import
// it as well as the host.
//
// # Behaviour
//
//   - Versions: every request except about carries
//     X-Experience-API-Version; 1.0, 1.0.0 to 1.0.3 are answered as 1.0.3
//     (the response header says 1.0.3), 2.0.0 as 2.0.0; others get 400.
//   - Statements: POST (one or an array) and PUT (statementId) are
//     validated with sdk/xapi for the request's version; one bad statement
//     rejects the request (400 naming it); duplicate ids in a request are a
//     400; an id stored with other content is a 409, with the same content it
//     is accepted (or 409 with ResendConflict). Stored statements get
//     stored, authority, version and, when absent, timestamp (the stored
//     time, which the Recorder sees too). X-Experience-API-Consistent-Through
//     is taken after the read and before any write still in progress. A voiding
//     statement voids its target: GET statementId then answers 404 and
//     voidedStatementId returns it; queries leave it out. GET filters by
//     agent, verb, activity, registration (with related_agents,
//     related_activities), since/until on stored, pages with limit and a
//     relative more IRL, orders with ascending, and formats as ids, exact or
//     canonical (by Accept-Language). Statements targeting a matching
//     statement (StatementRef) match too. multipart/mixed bodies carry
//     attachment data, checked against X-Experience-API-Hash;
//     attachments=true returns it. A signature attachment must be a JWS
//     (RS256, RS384 or RS512) whose payload is the statement; with an x5c
//     header the signature is verified. format=exact returns statements as
//     received (contextActivities values as arrays).
//   - Documents: state, activity profile and agent profile documents keep
//     their Content-Type; GET answers ETag and Last-Modified; If-Match and
//     If-None-Match are checked (412); a PUT over an existing document
//     without either is a 409 (profiles; state from 2.0 on); POST merges JSON
//     objects (400 for anything else); GET without an id lists ids, with
//     since.
//   - Unknown or mis-cased parameters and invalid combinations get 400, as
//     do wrong content types; bodies over MaxBodyBytes get 413.
//   - The alternate request syntax (POST ?method=PUT with the headers,
//     parameters and content as form fields) is accepted, and CORS headers
//     are sent to the origins Options.AllowOrigins names.
//
// Error answers are JSON objects {"message": "..."} naming the problem.
package lrsserver
