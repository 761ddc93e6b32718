package xapi

import (
	"crypto/sha1"
	"encoding/hex"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Character classes of RFC 3986/3987 for ASCII bytes, as bits of iriClass.
const (
	iriUnreserved = 1 << iota // ALPHA DIGIT - . _ ~
	iriSubDelim               // ! $ & ' ( ) * + , ; =
	iriColon                  // :
	iriAt                     // @
	iriSlash                  // /
	iriQuestion               // ?
	iriMailLocal              // atext of an addr-spec that a mailto IRI may carry unescaped
)

// Sets of allowed ASCII bytes for each part of an IRI.
const (
	iriSetRegName  = iriUnreserved | iriSubDelim
	iriSetUserinfo = iriSetRegName | iriColon
	iriSetPchar    = iriSetRegName | iriColon | iriAt
	iriSetPath     = iriSetPchar | iriSlash
	iriSetQuery    = iriSetPath | iriQuestion // also iprivate
	iriSetFragment = iriSetPath | iriQuestion
)

// iriClass maps each ASCII byte to its classes; bytes >= 0x80 have none.
var iriClass = func() (t [256]uint8) {
	set := func(chars string, bit uint8) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= bit
		}
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= iriUnreserved | iriMailLocal
		t[c-'a'+'A'] |= iriUnreserved | iriMailLocal
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= iriUnreserved | iriMailLocal
	}
	set("-._~", iriUnreserved)
	set("!$&'()*+,;=", iriSubDelim)
	set(":", iriColon)
	set("@", iriAt)
	set("/", iriSlash)
	set("?", iriQuestion)
	// RFC 5322 atext without the characters that a mailto IRI must
	// percent-encode ("#", "?", "^", "`", "{", "|", "}") and without "%",
	// which only starts an escape.
	set("!$&'*+-/=_~", iriMailLocal)
	return t
}()

// IsIRI reports whether s is an absolute IRI as RFC 3987 defines it: a
// scheme, ":", a hierarchical part, and an optional query and fragment, for
// example "http://example.com/xapi/verbs#sent" or
// "urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc".
//
// Relative references ("/a/b", "example.com") and bare fragments ("#frag")
// are not IRIs, nor are strings with spaces, control characters, characters
// outside the allowed set (such as "<", "\\" or "{"), malformed percent
// escapes, invalid UTF-8 or bidirectional formatting characters. Beyond RFC
// 3987, something must follow the colon: "urn:" identifies nothing.
func IsIRI(s string) bool {
	_, ok := iriParse(s)
	return ok
}

// IsIRL reports whether s is an IRI that locates something: an absolute IRI
// (see [IsIRI]) with an authority that names a host, such as
// "https://lms.example.com/" or "http://[2001:db8::1]:8080/x". IRIs without
// an authority ("urn:x:y", "mailto:jane@example.com") or with an empty host
// ("file:///tmp/x") are not IRLs.
func IsIRL(s string) bool {
	host, ok := iriParse(s)
	return ok && host != ""
}

// iriParse checks s against the IRI production of RFC 3987 and returns the
// host of its authority, or "" when it has none.
func iriParse(s string) (host string, ok bool) {
	// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c|0x20 && c|0x20 <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			continue
		}
		break
	}
	if i == 0 || i == len(s) || s[i] != ':' || i+1 == len(s) {
		return "", false
	}
	rest := s[i+1:]
	if before, frag, found := strings.Cut(rest, "#"); found {
		if !iriValid(frag, iriSetFragment, false) {
			return "", false
		}
		rest = before
	}
	if before, query, found := strings.Cut(rest, "?"); found {
		if !iriValid(query, iriSetQuery, true) {
			return "", false
		}
		rest = before
	}
	if !strings.HasPrefix(rest, "//") {
		// ipath-absolute / ipath-rootless / ipath-empty
		return "", iriValid(rest, iriSetPath, false)
	}
	authority, path := rest[2:], ""
	if j := strings.IndexByte(authority, '/'); j >= 0 {
		authority, path = authority[:j], authority[j:]
	}
	if !iriValid(path, iriSetPath, false) {
		return "", false
	}
	if j := strings.IndexByte(authority, '@'); j >= 0 {
		if !iriValid(authority[:j], iriSetUserinfo, false) {
			return "", false
		}
		authority = authority[j+1:]
	}
	hostport := authority
	port := ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 || !iriIPLiteral(hostport[1:end]) {
			return "", false
		}
		host, hostport = hostport[:end+1], hostport[end+1:]
		if hostport != "" {
			if hostport[0] != ':' {
				return "", false
			}
			port = hostport[1:]
		}
	} else {
		host = hostport
		if j := strings.IndexByte(hostport, ':'); j >= 0 {
			host, port = hostport[:j], hostport[j+1:]
		}
		if !iriValid(host, iriSetRegName, false) {
			return "", false
		}
	}
	for k := 0; k < len(port); k++ {
		if port[k] < '0' || port[k] > '9' {
			return "", false
		}
	}
	return host, true
}

// iriValid reports whether every character of s is in the ASCII set, a
// percent escape, a ucschar, or (when private is true) an iprivate
// character.
func iriValid(s string, set uint8, private bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case iriClass[c]&set != 0:
				i++
			case c == '%':
				if i+2 >= len(s) || !iriIsHex(s[i+1]) || !iriIsHex(s[i+2]) {
					return false
				}
				i += 3
			default:
				return false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !iriUcschar(r) && !(private && iriPrivate(r)) {
			return false // includes utf8.RuneError for invalid UTF-8
		}
		i += size
	}
	return true
}

// iriUcschar reports whether r is a ucschar of RFC 3987, leaving out the
// bidirectional formatting characters that section 4.1 forbids.
func iriUcschar(r rune) bool {
	switch {
	case r < 0xA0:
		return false
	case r <= 0xD7FF:
		return r != 0x200E && r != 0x200F && (r < 0x202A || r > 0x202E)
	case r < 0xF900:
		return false
	case r <= 0xFDCF:
		return true
	case r < 0xFDF0:
		return false
	case r <= 0xFFEF:
		return true
	case r >= 0x10000 && r <= 0xEFFFD:
		// each plane but the last two positions (U+xFFFE, U+xFFFF); plane
		// 14 starts at U+E1000
		return r&0xFFFF <= 0xFFFD && (r < 0xE0000 || r >= 0xE1000)
	}
	return false
}

// iriPrivate reports whether r is an iprivate character of RFC 3987.
func iriPrivate(r rune) bool {
	return 0xE000 <= r && r <= 0xF8FF || 0xF0000 <= r && r <= 0xFFFFD || 0x100000 <= r && r <= 0x10FFFD
}

// iriIPLiteral checks the inside of "[...]": an IPv6 address or an
// IPvFuture ("v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )).
func iriIPLiteral(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == 'v' || s[0] == 'V' {
		hexPart, rest, found := strings.Cut(s[1:], ".")
		if !found || hexPart == "" || rest == "" {
			return false
		}
		for k := 0; k < len(hexPart); k++ {
			if !iriIsHex(hexPart[k]) {
				return false
			}
		}
		for k := 0; k < len(rest); k++ {
			if iriClass[rest[k]]&iriSetUserinfo == 0 {
				return false
			}
		}
		return true
	}
	for k := 0; k < len(s); k++ {
		if c := s[k]; !iriIsHex(c) && c != ':' && c != '.' {
			return false // also rules out zones, which netip would accept
		}
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

func iriIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

// IsMailto reports whether s is "mailto:" followed by exactly one plausible
// email address, as an Agent's mbox must be: "mailto:jane@example.com".
//
// The scheme must be written in lower case. The address is local@domain.
// The local part is a dot-atom of at most 64 characters: RFC 5322 atext
// except "#", "?", "^", "`", "{", "|" and "}", which a mailto IRI must
// percent-encode, plus percent escapes. The domain has at least two
// dot-separated labels of letters, digits and inner hyphens, each at most
// 63 characters, at most 253 in all. Non-ASCII letters (IRI characters) are
// allowed in both parts. Quoted local parts, domain literals
// ("[192.0.2.1]"), several addresses and "?subject=" headers are rejected,
// and so are values like "mailto:undefined".
func IsMailto(s string) bool {
	const prefix = "mailto:"
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	local, domain, found := strings.Cut(s[len(prefix):], "@")
	return found && mailtoLocal(local) && mailtoDomain(domain)
}

// mailtoLocal checks a dot-atom local part.
func mailtoLocal(s string) bool {
	n := 0 // characters, counting a percent escape as one
	prevDot := true
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return false // leading or double dot
			}
			prevDot = true
			i++
			n++
			continue
		case c < utf8.RuneSelf && iriClass[c]&iriMailLocal != 0:
			i++
		case c == '%':
			if i+2 >= len(s) || !iriIsHex(s[i+1]) || !iriIsHex(s[i+2]) {
				return false
			}
			i += 3
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !iriUcschar(r) {
				return false
			}
			i += size
		default:
			return false
		}
		prevDot = false
		n++
	}
	return n > 0 && n <= 64 && !prevDot
}

// mailtoDomain checks a domain of two or more labels.
func mailtoDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := 0
	for {
		label, rest, more := strings.Cut(s, ".")
		if !mailtoLabel(label) {
			return false
		}
		labels++
		if !more {
			return labels >= 2
		}
		s = rest
	}
}

func mailtoLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != '-' && !('0' <= c && c <= '9') && !('a' <= c|0x20 && c|0x20 <= 'z') {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !iriUcschar(r) {
			return false
		}
		i += size
	}
	return true
}

// IsSHA1Hex reports whether s is a SHA-1 hash in hexadecimal: 40 hex
// digits in either case, as an Agent's mbox_sha1sum is.
func IsSHA1Hex(s string) bool {
	return len(s) == 40 && iriAllHex(s)
}

// IsSHA2Hex reports whether s is a SHA-2 hash in hexadecimal, as an
// attachment's sha2 is: 56, 64, 96 or 128 hex digits (SHA-224, SHA-256,
// SHA-384 or SHA-512) in either case.
func IsSHA2Hex(s string) bool {
	switch len(s) {
	case 56, 64, 96, 128:
		return iriAllHex(s)
	}
	return false
}

func iriAllHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !iriIsHex(s[i]) {
			return false
		}
	}
	return true
}

// MboxSHA1Sum returns the mbox_sha1sum of an email address: the lower-case
// hex SHA-1 of the whole mailto IRI, with the domain (the part after the
// last "@") in lower case as xAPI requires. mbox may be the IRI
// ("mailto:jane@example.com", scheme in any case) or the bare address
// ("jane@example.com"); both give the same sum. MboxSHA1Sum does not check
// the address; use [IsMailto] for that.
func MboxSHA1Sum(mbox string) string {
	const prefix = "mailto:"
	addr := mbox
	if len(addr) >= len(prefix) && strings.EqualFold(addr[:len(prefix)], prefix) {
		addr = addr[len(prefix):]
	}
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		addr = addr[:at+1] + strings.ToLower(addr[at+1:])
	}
	h := sha1.New()
	h.Write([]byte(prefix))
	h.Write([]byte(addr))
	return hex.EncodeToString(h.Sum(nil))
}
