package xapi

import (
	"strconv"
	"strings"
)

// Rule names a rule a statement can break. Rules are stable identifiers that
// callers and tests may compare; messages are for people and may change.
type Rule string

// Rules checked while decoding JSON.
const (
	// RuleJSONSyntax: the input is not well-formed JSON.
	RuleJSONSyntax Rule = "json-syntax"
	// RuleJSONType: a value has the wrong JSON type (a string where a
	// number belongs, an object where an array belongs, ...).
	RuleJSONType Rule = "json-type"
	// RuleUnknownKey: a key that xAPI does not define at this place,
	// including keys in the wrong case ("Actor").
	RuleUnknownKey Rule = "unknown-key"
	// RuleDuplicateKey: the same key twice in one JSON object.
	RuleDuplicateKey Rule = "duplicate-key"
	// RuleNull: null outside extensions.
	RuleNull Rule = "null"
	// RuleDepth: objects and arrays nested more deeply than the decoder
	// reads (MaxDepth levels, counted from the statement). The too-deep
	// value is skipped and the rest of the statement is still read, so that
	// this is the only problem reported for it.
	RuleDepth Rule = "json-depth"
)

// Rules checked by Validate.
const (
	// RuleRequired: a required property is missing or empty.
	RuleRequired Rule = "required"
	// RuleUUID: a statement id, registration or StatementRef id is not a
	// UUID in hyphenated form.
	RuleUUID Rule = "uuid"
	// RuleIRI: a value that must be an absolute IRI is not one.
	RuleIRI Rule = "iri"
	// RuleIRL: a value that must be an IRL (a locatable IRI) is not one.
	RuleIRL Rule = "irl"
	// RuleLanguageTag: a language map key or context.language is not a
	// well-formed RFC 5646 tag.
	RuleLanguageTag Rule = "language-tag"
	// RuleMailto: mbox is not "mailto:" followed by an email address.
	RuleMailto Rule = "mailto"
	// RuleSHA1Sum: mbox_sha1sum is not 40 hexadecimal digits.
	RuleSHA1Sum Rule = "sha1sum"
	// RuleSHA2: an attachment sha2 is not a hex SHA-2 hash.
	RuleSHA2 Rule = "sha2"
	// RuleTimestamp: a timestamp is not RFC 3339 with a zone, or uses a
	// forbidden negative zero offset.
	RuleTimestamp Rule = "timestamp"
	// RuleDuration: a duration is not an ISO 8601 duration xAPI accepts.
	RuleDuration Rule = "duration"
	// RuleIFI: an agent or identified group does not have exactly one
	// inverse functional identifier.
	RuleIFI Rule = "ifi"
	// RuleObjectType: objectType is missing where required or has a value
	// not allowed at this place.
	RuleObjectType Rule = "object-type"
	// RuleGroupMember: an anonymous group without members, or a member that
	// is a group.
	RuleGroupMember Rule = "group-member"
	// RuleVoiding: the voided verb without a StatementRef object.
	RuleVoiding Rule = "voiding"
	// RuleInteractionType: interactionType is not one of InteractionTypes.
	RuleInteractionType Rule = "interaction-type"
	// RuleInteractionComponents: a component list that the interaction
	// type does not allow, or components without an interaction type.
	RuleInteractionComponents Rule = "interaction-components"
	// RuleComponentID: interaction component ids are not unique within
	// their list, or are empty.
	RuleComponentID Rule = "component-id"
	// RuleScoreScaled: score.scaled is outside [-1, 1].
	RuleScoreScaled Rule = "score-scaled"
	// RuleScoreRaw: score.raw is outside [min, max].
	RuleScoreRaw Rule = "score-raw"
	// RuleScoreMinMax: score.min is not less than score.max.
	RuleScoreMinMax Rule = "score-min-max"
	// RuleContextActivityOnly: context.platform or context.revision with an
	// object that is not an activity.
	RuleContextActivityOnly Rule = "context-activity-only"
	// RuleContextTeam: context.team is not a group.
	RuleContextTeam Rule = "context-team"
	// RuleSubStatement: a SubStatement inside a SubStatement, or a
	// SubStatement with id, stored, version or authority.
	RuleSubStatement Rule = "substatement"
	// RuleVersion: the statement version is not one the target accepts.
	RuleVersion Rule = "version"
	// RuleNotInVersion: a property the target version does not define
	// (contextAgents and contextGroups for 1.0.3).
	RuleNotInVersion Rule = "not-in-version"
	// RuleRelevantTypes: relevantTypes is present but empty.
	RuleRelevantTypes Rule = "relevant-types"
	// RuleAttachment: an attachment property out of range (negative
	// length).
	RuleAttachment Rule = "attachment"
	// RuleAuthority: an authority group that is not exactly two agents.
	RuleAuthority Rule = "authority"
)

// Problem is one thing wrong with a statement.
type Problem struct {
	// Path is the JSON path of the offending value, for example
	// "object.definition.choices[1].id"; empty for the statement itself.
	Path string
	// Rule is the rule broken.
	Rule Rule
	// Message explains the problem to a person.
	Message string
}

// String formats p as "PATH: RULE: MESSAGE", with "(statement)" for an empty
// path.
func (p Problem) String() string {
	path := p.Path
	if path == "" {
		path = "(statement)"
	}
	return path + ": " + string(p.Rule) + ": " + p.Message
}

// Problems is a list of problems. A non-empty Problems is an error.
type Problems []Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Err returns ps as an error, or nil when ps is empty.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}
