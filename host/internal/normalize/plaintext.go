package normalize

import (
	"html"
	"strings"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// plainDefinition turns the HTML that H5P puts into an activity's name,
// description and interaction component descriptions (the question text,
// "<p>Which are organelles?</p>") into plain text: language map values are
// plain text in xAPI and LRSs do not render HTML.
func plainDefinition(d *xapi.ActivityDefinition) {
	if d == nil {
		return
	}
	plainMap(d.Name)
	plainMap(d.Description)
	for _, list := range [][]xapi.InteractionComponent{d.Choices, d.Scale, d.Source, d.Target, d.Steps} {
		for i := range list {
			plainMap(list[i].Description)
		}
	}
}

func plainMap(m xapi.LanguageMap) {
	for k, v := range m {
		if t := plainText(v); t != "" {
			m[k] = t
		} else {
			delete(m, k) // only markup: nothing to show
		}
	}
}

// plainText removes HTML tags, decodes character references and folds
// white space. A value without markup is returned with its white space
// folded only.
func plainText(s string) string {
	var b strings.Builder
	inTag := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inTag:
			if c == '>' {
				inTag = false
				b.WriteByte(' ')
			}
		case c == '<' && i+1 < len(s) && (isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!'):
			inTag = true
		default:
			b.WriteByte(c)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

func isASCIILetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
