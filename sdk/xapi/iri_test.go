package xapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsIRI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		// xAPI ids seen in practice
		{"ADL verb", "http://adlnet.gov/expapi/verbs/completed", true},
		{"verb with fragment", "http://example.com/xapi/verbs#sent", true},
		{"Storyline URN", "urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc", true},
		{"w3id https", "https://w3id.org/xapi/cmi5/context/extensions/sessionid", true},
		{"H5P sub-content query", "https://lms.example.com/h5p/embed/12?subContentId=6b1f5ce0-e1b5-4fae-a1f6-6e4d1a1d9f2e", true},
		{"SCORM attempt id", "https://lms.example.com/scorm/sco1?attemptId=c7a0eb7e-4f3e-40ac-8be4-7b24db899e80", true},
		{"tag URI", "tag:lrsbridge.example,2024:event/1", true},
		{"mailto", "mailto:jane@example.com", true},
		{"UUID URN", "urn:uuid:c7a0eb7e-4f3e-40ac-8be4-7b24db899e80", true},
		{"port", "http://localhost:8080/xapi", true},
		{"empty port", "http://example.com:/x", true},
		{"userinfo", "ftp://user:pw@example.com/file", true},
		{"IPv4 host", "http://192.0.2.1/x", true},
		{"IPv6 host", "http://[2001:db8::1]:8080/x", true},
		{"IPv4-mapped IPv6", "http://[::ffff:192.0.2.1]/", true},
		{"IPvFuture", "http://[v7.fe80::a+en1]/", true},
		{"empty authority", "file:///etc/hosts", true},
		{"percent escapes", "http://example.com/a%20b%C3%A9", true},
		{"sub-delims", "http://example.com/a;b=c,d!$&'()*+", true},
		{"non-ASCII path", "http://example.com/résumé/日本語", true},
		{"non-ASCII host", "http://例え.jp/", true},
		{"non-ASCII fragment", "http://example.com/#ünïcödé", true},
		{"private use in query", "http://example.com/?\ue000", true},
		{"query with slash and question mark", "http://example.com/a?b=/c?d", true},
		{"fragment with slash and question mark", "http://example.com/a#/b?c", true},
		{"empty query and fragment", "http://example.com/?#", true},
		{"scheme with plus dot hyphen", "svn+ssh.x-y://example.com/", true},
		{"upper-case scheme", "HTTP://EXAMPLE.COM/", true},
		{"absolute path", "urn:/a/b", true},
		{"scheme-like host and port", "localhost:8080", true},
		// not absolute IRIs
		{"empty", "", false},
		{"no scheme", "example.com", false},
		{"relative path", "/xapi/verbs/sent", false},
		{"protocol-relative", "//example.com/x", false},
		{"bare fragment", "#frag", false},
		{"scheme only", "urn:", false},
		{"empty scheme", ":foo", false},
		{"scheme starts with digit", "1http://example.com", false},
		{"scheme with underscore", "my_scheme:x", false},
		{"space in host", "http://a b", false},
		{"space in path", "http://example.com/a b", false},
		{"leading space", " http://example.com/", false},
		{"tab", "http://example.com/\t", false},
		{"newline", "http://example.com/\n", false},
		{"DEL", "http://example.com/\x7f", false},
		{"C1 control", "http://example.com/\u0085", false},
		{"NUL", "http://example.com/\x00", false},
		{"angle brackets", "http://example.com/<a>", false},
		{"double quote", "http://example.com/\"a\"", false},
		{"backslash", "http://example.com\\a", false},
		{"Windows path", "C:\\Users\\x", false},
		{"braces", "http://example.com/{id}", false},
		{"pipe", "http://example.com/a|b", false},
		{"caret", "http://example.com/a^b", false},
		{"backtick", "http://example.com/a`b", false},
		{"two fragments", "http://example.com/a#b#c", false},
		{"bad percent escape", "http://example.com/a%2", false},
		{"percent not hex", "http://example.com/a%zz", false},
		{"lone percent", "http://example.com/100%", false},
		{"invalid UTF-8", "http://example.com/\xff", false},
		{"truncated UTF-8", "http://example.com/\xc3", false},
		{"bidi mark", "http://example.com/a\u200fb", false},
		{"bidi override", "http://example.com/\u202e", false},
		{"noncharacter", "http://example.com/\ufffe", false},
		{"private use outside query", "http://example.com/\ue000", false},
		{"unclosed IPv6", "http://[2001:db8::1/x", false},
		{"bad IPv6", "http://[2001:db8:::1]/", false},
		{"IPv4 in brackets", "http://[192.0.2.1]/", false},
		{"IPv6 zone", "http://[fe80::1%25eth0]/", false},
		{"text after IPv6", "http://[::1]x/", false},
		{"bracket in path", "http://example.com/[x]", false},
		{"non-digit port", "http://example.com:80a/", false},
		{"two at signs", "http://a@b@example.com/", false},
		{"space in query", "http://example.com/?a=b c", false},
		{"space in fragment", "http://example.com/#a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsIRI(tt.in)); diff != "" {
				t.Errorf("IsIRI(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestIsIRL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"https home page", "https://lms.example.com", true},
		{"http with path", "http://www.example.com/users/", true},
		{"port and query", "http://localhost:8080/x?y=1", true},
		{"IPv6 host", "http://[2001:db8::1]/", true},
		{"userinfo", "https://user@example.com/", true},
		{"non-http scheme", "ftp://files.example.com/a", true},
		{"URN", "urn:articulate:storyline:5Ujw93Dh98n", false},
		{"mailto", "mailto:jane@example.com", false},
		{"empty host", "file:///tmp/x", false},
		{"empty host with port", "http://:80/", false},
		{"no scheme", "www.example.com", false},
		{"relative", "/users/1", false},
		{"not an IRI", "http://a b", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsIRL(tt.in)); diff != "" {
				t.Errorf("IsIRL(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestIsMailto(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"simple", "mailto:jane@example.com", true},
		{"suite address", "mailto:test@beta.projecttincan.com", true},
		{"dots and plus", "mailto:jane.doe+lrs@mail.example.co.uk", true},
		{"atext symbols", "mailto:a!$&'*+-/=_~z@example.com", true},
		{"escaped braces", "mailto:a%7Bb%7D@example.com", true},
		{"raw braces", "mailto:a{b}@example.com", false},
		{"raw pipe", "mailto:a|b@example.com", false},
		{"raw caret", "mailto:a^b@example.com", false},
		{"raw backtick", "mailto:a`b@example.com", false},
		{"percent escape", "mailto:jane%3Fdoe@example.com", true},
		{"upper-case domain", "mailto:Jane@EXAMPLE.COM", true},
		{"hyphen in label", "mailto:jane@my-host.example", true},
		{"digits", "mailto:123@123.example", true},
		{"non-ASCII", "mailto:jöran@例え.jp", true},
		{"undefined (H5P without a user)", "mailto:undefined", false},
		{"empty address", "mailto:", false},
		{"bare address", "jane@example.com", false},
		{"upper-case scheme", "MAILTO:jane@example.com", false},
		{"no local part", "mailto:@example.com", false},
		{"no domain", "mailto:jane@", false},
		{"single-label domain", "mailto:jane@localhost", false},
		{"two at signs", "mailto:jane@doe@example.com", false},
		{"space", "mailto:jane doe@example.com", false},
		{"leading space", "mailto: jane@example.com", false},
		{"headers", "mailto:jane@example.com?subject=hi", false},
		{"question mark in local part", "mailto:ja?ne@example.com", false},
		{"hash", "mailto:ja#ne@example.com", false},
		{"two addresses", "mailto:jane@example.com,joe@example.com", false},
		{"leading dot", "mailto:.jane@example.com", false},
		{"trailing dot", "mailto:jane.@example.com", false},
		{"double dot", "mailto:ja..ne@example.com", false},
		{"quoted local part", "mailto:\"jane doe\"@example.com", false},
		{"domain literal", "mailto:jane@[192.0.2.1]", false},
		{"empty label", "mailto:jane@example..com", false},
		{"trailing dot domain", "mailto:jane@example.com.", false},
		{"label starts with hyphen", "mailto:jane@-example.com", false},
		{"label ends with hyphen", "mailto:jane@example-.com", false},
		{"underscore in domain", "mailto:jane@ex_ample.com", false},
		{"label too long", "mailto:jane@" + strings.Repeat("a", 64) + ".com", false},
		{"longest label", "mailto:jane@" + strings.Repeat("a", 63) + ".com", true},
		{"local part too long", "mailto:" + strings.Repeat("a", 65) + "@example.com", false},
		{"longest local part", "mailto:" + strings.Repeat("a", 64) + "@example.com", true},
		{"domain too long", "mailto:jane@" + strings.Repeat("a.", 126) + "com", false},
		{"bad percent escape", "mailto:ja%2@example.com", false},
		{"control character", "mailto:jane\x01@example.com", false},
		{"invalid UTF-8", "mailto:jane\xff@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsMailto(tt.in)); diff != "" {
				t.Errorf("IsMailto(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestIsSHA1Hex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"lower case", "b29427ee6959c18f1ad7ee4096d65f78986a1866", true},
		{"upper case", "B29427EE6959C18F1AD7EE4096D65F78986A1866", true},
		{"39 digits", "b29427ee6959c18f1ad7ee4096d65f78986a186", false},
		{"41 digits", "b29427ee6959c18f1ad7ee4096d65f78986a18660", false},
		{"non-hex", "g29427ee6959c18f1ad7ee4096d65f78986a1866", false},
		{"mailto instead of a sum", "mailto:jane@example.com", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsSHA1Hex(tt.in)); diff != "" {
				t.Errorf("IsSHA1Hex(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestIsSHA2Hex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"SHA-224", strings.Repeat("a", 56), true},
		{"SHA-256", "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634", true},
		{"SHA-256 upper case", "672FA5FA658017F1B72D65036F13379C6AB05D4AB3B6664908D8ACF0B6A0C634", true},
		{"SHA-384", strings.Repeat("0", 96), true},
		{"SHA-512", strings.Repeat("F", 128), true},
		{"SHA-1 length", strings.Repeat("a", 40), false},
		{"63 digits", strings.Repeat("a", 63), false},
		{"65 digits", strings.Repeat("a", 65), false},
		{"non-hex", strings.Repeat("a", 63) + "g", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsSHA2Hex(tt.in)); diff != "" {
				t.Errorf("IsSHA2Hex(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestMboxSHA1Sum(t *testing.T) {
	t.Parallel()
	// Expected sums computed independently with sha1sum over the mailto
	// IRI with a lower-case domain.
	const (
		jane    = "b29427ee6959c18f1ad7ee4096d65f78986a1866" // mailto:jane@example.com
		janeDoe = "3ec720daefd88febb71567a621617b8f62e3b120" // mailto:Jane.Doe@example.com
		suite   = "dc39c1c5d822bcb2fdd67fd89ba184b5681a8082" // mailto:test@beta.projecttincan.com
	)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"mailto IRI", "mailto:jane@example.com", jane},
		{"bare address", "jane@example.com", jane},
		{"upper-case domain", "mailto:jane@EXAMPLE.com", jane},
		{"upper-case scheme", "MAILTO:jane@example.com", jane},
		{"local part case kept", "mailto:Jane.Doe@Example.COM", janeDoe},
		{"suite address", "test@beta.projecttincan.com", suite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MboxSHA1Sum(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MboxSHA1Sum(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if !IsSHA1Hex(got) {
				t.Errorf("MboxSHA1Sum(%q) = %q is not 40 hex digits", tt.in, got)
			}
		})
	}
}

func FuzzIsIRI(f *testing.F) {
	for _, s := range []string{
		"http://example.com/xapi/verbs#sent", "urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc",
		"http://[2001:db8::1]:8080/x?y#z", "http://[v7.a:b]/", "file:///x", "mailto:jane@example.com",
		"example.com", "#frag", "http://a b", "http://example.com/%zz", "http://例え.jp/\ue000?\ue000",
		"http://[", "a:", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iri := IsIRI(s)
		irl := IsIRL(s)
		mailto := IsMailto(s)
		if irl && !iri {
			t.Fatalf("IsIRL(%q) but not IsIRI", s)
		}
		if mailto && !iri {
			t.Fatalf("IsMailto(%q) but not IsIRI", s)
		}
		if iri && strings.ContainsAny(s, " \t\r\n\x00<>\"\\{}|^`") {
			t.Fatalf("IsIRI(%q) accepts a forbidden character", s)
		}
		if iri && strings.IndexByte(s, ':') < 1 {
			t.Fatalf("IsIRI(%q) accepts a string without a scheme", s)
		}
	})
}

func BenchmarkIsIRI(b *testing.B) {
	for _, s := range []string{
		"http://adlnet.gov/expapi/verbs/completed",
		"urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc",
		"https://lms.example.com/h5p/embed/12?subContentId=6b1f5ce0-e1b5-4fae-a1f6-6e4d1a1d9f2e#résumé",
	} {
		b.Run(s[:min(len(s), 24)], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !IsIRI(s) {
					b.Fatal("not an IRI")
				}
			}
		})
	}
}
