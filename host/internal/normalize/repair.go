package normalize

// Repair is one invalid optional property of a content statement that the
// normalizer repaired or dropped so that the statement could be kept. The
// rules are listed in the package documentation.
type Repair struct {
	// Rule names the rule applied, for example "interaction-type-dropped".
	Rule string
	// Field is the JSON path of the property in the event, for example
	// "payload.object.definition.interactionType".
	Field string
}
