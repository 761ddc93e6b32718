package xapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsLanguageTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		// xAPI and conformance suite examples
		{"language", "en", true},
		{"language and region", "en-US", true},
		{"region in lower case", "en-us", true},
		{"upper case", "EN-GB", true},
		{"suite invalid key", "a12345678", false},
		// RFC 5646 appendix A examples
		{"three-letter language", "ast", true},
		{"language and script", "zh-Hant", true},
		{"extlang", "zh-yue", true},
		{"extlang and region", "zh-yue-HK", true},
		{"three extlangs", "zh-abc-def-ghi", true},
		{"script and region", "zh-Hans-CN", true},
		{"UN M.49 region", "es-419", true},
		{"variant", "sl-rozaj", true},
		{"two variants", "sl-rozaj-biske", true},
		{"digit variant", "de-CH-1901", true},
		{"script region variant", "hy-Latn-IT-arevela", true},
		{"extension", "de-DE-u-co-phonebk", true},
		{"two extensions", "en-a-bbb-z-ccc", true},
		{"extension with several subtags", "en-US-u-islamcal-nu-arab", true},
		{"private use after tag", "en-US-x-twain", true},
		{"private use tag", "x-whatever", true},
		{"private use upper case", "X-Whatever-1", true},
		{"private use one-letter subtags", "qaa-x-a-b", true},
		{"private use reserved language", "qaa-Qaaa-QM-x-southern", true},
		{"four-letter language", "abcd", true},
		{"eight-letter language", "abcdefgh", true},
		{"grandfathered irregular", "i-klingon", true},
		{"grandfathered irregular mixed case", "en-GB-oed", true},
		{"grandfathered irregular upper case", "SGN-BE-FR", true},
		{"grandfathered regular", "zh-min-nan", true},
		{"grandfathered regular variant form", "art-lojban", true},
		// not well-formed
		{"empty", "", false},
		{"one letter", "e", false},
		{"nine letters", "abcdefghi", false},
		{"underscore", "en_US", false},
		{"digit in language", "e1", false},
		{"space", "en US", false},
		{"trailing hyphen", "en-", false},
		{"leading hyphen", "-en", false},
		{"double hyphen", "en--US", false},
		{"four extlangs", "zh-abc-def-ghi-jkl", false},
		{"extlang after four-letter language", "abcd-abc", false},
		{"two scripts", "en-Latn-Latn", false},
		{"two regions", "en-US-GB", false},
		{"script after region", "en-US-Latn", false},
		{"three letters after region", "en-US-abc", false},
		{"four letters are a script", "en-abcd", true},
		{"subtag too long", "en-abcdefghi", false},
		{"singleton without subtag", "en-a", false},
		{"singleton followed by singleton", "en-a-b-cc", false},
		{"extension subtag too short", "en-a-b", false},
		{"extension subtag too long", "en-a-abcdefghi", false},
		{"private use without subtag", "en-x", false},
		{"private use alone", "x", false},
		{"private use subtag too long", "x-abcdefghi", false},
		{"private use subtag too long after tag", "de-DE-u-co-phonebk-x-lrsbridge", false},
		{"private use empty subtag", "x-a--b", false},
		{"irregular not exact", "i-klingon-x", false},
		{"unknown i- tag", "i-foo", false},
		{"non-ASCII", "fr-ÇA", false},
		{"digit language", "123", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsLanguageTag(tt.in)); diff != "" {
				t.Errorf("IsLanguageTag(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func BenchmarkIsLanguageTag(b *testing.B) {
	for _, s := range []string{"en-US", "zh-Hant-TW", "de-DE-u-co-phonebk-x-lrsbrdg"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !IsLanguageTag(s) {
					b.Fatal("not a language tag")
				}
			}
		})
	}
}
