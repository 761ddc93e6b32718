// Package normalize turns LearningFlow events into valid xAPI statements.
//
// The host calls [Normalizer.Normalize] once per event with the org's
// [Settings]. Each kind of event has its own normalizer; all of them build
// on the shape common to LearningFlow statements: an actor chosen by the
// org's identity policy, a deterministic id, a UTC timestamp, the
// registration, the platform (only when the object is an activity), the
// course language, and the course and assignment as grouping activities
// under the org's base IRI.
package normalize
