package xapi

import "strings"

// IsLanguageTag reports whether s is a well-formed language tag as defined
// by the ABNF of RFC 5646 section 2.1: a langtag such as "en", "en-US",
// "zh-Hant-TW" or "sl-rozaj-biske", a private use tag such as "x-whatever",
// or one of the grandfathered tags such as "i-klingon". Case does not
// matter. Well-formedness is a check of syntax only: subtags are not looked
// up in the IANA registry, so "qq-ZZ" is well-formed, while "a12345678" and
// "en_US" are not.
func IsLanguageTag(s string) bool {
	// The regular grandfathered tags are also well-formed langtags, so the
	// list only matters when the grammar says no.
	return s != "" && (langParse(s) || langGrandfathered(s))
}

// Stages of a langtag, in the order in which subtags may appear.
const (
	langStageLanguage = iota // after the primary language subtag
	langStageExtlang         // after one or more extlang subtags
	langStageScript
	langStageRegion
	langStageVariant
	langStageExtension // after an extension subtag (not its singleton)
)

// langParse checks the langtag and privateuse productions.
func langParse(s string) bool {
	first, rest, more := strings.Cut(s, "-")
	if len(first) == 1 && (first[0] == 'x' || first[0] == 'X') {
		return more && langPrivateUse(rest)
	}
	// language = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA
	if len(first) < 2 || len(first) > 8 || !langAll(first, langIsAlpha) {
		return false
	}
	stage := langStageLanguage
	extlangs := 0
	canExtlang := len(first) <= 3
	singleton := false // the previous subtag was an extension singleton
	for more {
		var sub string
		sub, rest, more = strings.Cut(rest, "-")
		n := len(sub)
		if n == 0 || n > 8 || !langAll(sub, langIsAlnum) {
			return false
		}
		if singleton {
			// an extension singleton needs at least one 2-8 subtag
			if n < 2 {
				return false
			}
			singleton = false
			stage = langStageExtension
			continue
		}
		switch {
		case n == 1:
			if sub[0] == 'x' || sub[0] == 'X' {
				return more && langPrivateUse(rest)
			}
			singleton = true
			stage = langStageExtension
		case stage == langStageExtension:
			// further subtags of the current extension
			if n < 2 {
				return false
			}
		case n == 3 && langAll(sub, langIsAlpha) && canExtlang && stage <= langStageExtlang && extlangs < 3:
			extlangs++
			stage = langStageExtlang
		case n == 4 && langAll(sub, langIsAlpha) && stage < langStageScript:
			stage = langStageScript
		case (n == 2 && langAll(sub, langIsAlpha) || n == 3 && langAll(sub, langIsDigit)) && stage < langStageRegion:
			stage = langStageRegion
		case (n >= 5 || n == 4 && langIsDigit(sub[0])) && stage <= langStageVariant:
			stage = langStageVariant
		default:
			return false
		}
	}
	return !singleton
}

// langPrivateUse checks the subtags after "x-": 1*("-" (1*8alphanum)).
func langPrivateUse(rest string) bool {
	for {
		sub, r, more := strings.Cut(rest, "-")
		if len(sub) == 0 || len(sub) > 8 || !langAll(sub, langIsAlnum) {
			return false
		}
		if !more {
			return true
		}
		rest = r
	}
}

// langGrandfatheredTags are the irregular and regular grandfathered tags of
// RFC 5646, lower-cased. The regular ones are also well-formed langtags;
// they are listed for completeness.
var langGrandfatheredTags = [...]string{
	"en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak",
	"i-klingon", "i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay",
	"i-tsu", "sgn-be-fr", "sgn-be-nl", "sgn-ch-de",
	"art-lojban", "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka",
	"zh-min", "zh-min-nan", "zh-xiang",
}

func langGrandfathered(s string) bool {
	for _, g := range langGrandfatheredTags {
		if strings.EqualFold(s, g) {
			return true
		}
	}
	return false
}

func langAll(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

func langIsAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func langIsDigit(c byte) bool { return '0' <= c && c <= '9' }
func langIsAlnum(c byte) bool { return langIsAlpha(c) || langIsDigit(c) }
