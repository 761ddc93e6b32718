// Package launch is the LRS side of xAPI for content that LearningFlow
// launches: Articulate Storyline and Rise packages published as "Tin Can
// API" or cmi5, and other xAPI packages that run in the learner's browser
// and talk xAPI to the endpoint they were launched with.
//
// A Server issues credentials per launch (Launch: organization, learner,
// course, assignment, activity id, registration, lifetime) and answers the
// package's xAPI requests with the conformant LRS of package sdk/lrsserver
// over a file-backed store in the host's data directory. Every statement
// the package sends is normalized by the host's xapi.statement event rules
// (actor and registration forced to the launch's learner and registration,
// LearningFlow's context added) and recorded durably for the organization's
// integrations through Host.RecordEvent before it is acknowledged, so it
// reaches their LRSs. The package keeps its bookmark in the State resource.
//
// A launch credential reaches only its own learner's and registration's
// data: statement queries see only the launch's learner and registration,
// state and agent profile requests naming anyone else get 403, activity
// profiles are read-only, and voiding is refused (403), as cmi5 requires.
// An expired or unknown credential gets 401 and nothing is stored.
//
// For cmi5 launches the Server also answers the fetch URL (a one-time
// exchange of a token for the authorization value), writes the
// LMS.LaunchData state document and records the "launched" statement; it
// refuses (403) statements that break cmi5's section 9 (ids, UTC
// timestamps, session id, verb order per session and registration,
// results, categories, masteryScore, launchMode), keeps LMS.LaunchData
// read-only and the learner preferences in their documented form, ends a
// session's credential once it terminated, and records "abandoned" for a
// session that did not terminate when the AU is launched again in the
// registration. Abandon, Waive and Satisfy record the LMS's other cmi5
// verbs on LearningFlow's word. docs/launching-content.md lists the rules.
package launch
