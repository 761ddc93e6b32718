// Package xapi is the xAPI statement data model of lrsbridge: the types of
// xAPI 1.0.3 and 2.0 (IEEE 9274.1.1), a strict decoder, a deterministic
// encoder, a validator that reports every problem with its JSON path, and the
// helpers the rest of lrsbridge builds on (UUIDv5 statement ids, ISO 8601
// durations, RFC 3339 timestamps, RFC 5646 language tags, IRI, mailto and
// sha1sum checks).
//
// # Decoding
//
// [Parse] decodes one statement strictly: unknown keys, keys in the wrong
// case, duplicate keys and null anywhere outside extensions are problems, as
// are values of the wrong JSON type. It reports every such problem, not just
// the first, each with the JSON path where it was found. Objects and arrays
// nested more than [MaxDepth] levels deep are refused with [RuleDepth] at
// the path of the too-deep value, and the rest of the statement is still
// read. [ParseStatements]
// reads a JSON array, a single statement or NDJSON.
//
// # Validation
//
// [Validate] checks a decoded statement against the rules of a target
// [Version] and returns all problems as [Problems]; each [Problem] names the
// JSON path (for example object.definition.choices[1].id) and the [Rule]
// broken. [Check] decodes and validates in one call.
//
// # Encoding
//
// [Marshal] and [Append] write the canonical form of a statement: keys in a
// fixed order (the order of the xAPI specification for statement properties,
// sorted for language maps and extensions), timestamps in UTC with exactly
// three fractional digits, durations in the canonical form of [Duration],
// numbers in their shortest round-trip form, and objectType always present on
// agents, groups and activities. The same statement always yields the same
// bytes, so a retried statement is byte-identical at the LRS.
//
// Encoding for [V103] never emits properties that only exist in xAPI 2.0:
// context.contextAgents and context.contextGroups are left out, and a
// statement version other than "1.0" or "1.0.x" is left out. [Validate]
// for V103 reports such properties, so a caller that wants to know validates
// first; a caller that wants them dropped encodes for V103.
//
// The package depends on the standard library only.
package xapi
