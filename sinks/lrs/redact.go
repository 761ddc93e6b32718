package lrs

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// minRedactLen is the shortest secret value that is redacted from text: a
// shorter one would blank out ordinary words.
const minRedactLen = 3

// redactor removes every form derived from the sink's secrets from text an
// LRS sent back, since an LRS or gateway may echo the request (its
// Authorization header, a form body) in an error body: the values
// themselves, their base64 (standard and URL alphabets, with and without
// padding) and URL-escaped forms, in any letter case.
//
// It is used through a pointer, so that printing a struct that holds one
// shows an address, not the forms of the secrets.
type redactor struct {
	// needles are the forms to remove.
	needles []string
}

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	r.add(secrets...)
	return r
}

// add adds the forms of secrets.
func (r *redactor) add(secrets ...string) {
	for _, v := range secrets {
		if len(v) < minRedactLen {
			continue
		}
		b := []byte(v)
		for _, f := range []string{
			v,
			base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
			base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
			url.QueryEscape(v), url.PathEscape(v),
		} {
			r.needles = append(r.needles, f)
		}
	}
}

// apply returns s with every form of the secrets (and of extra values, such
// as the current access token) replaced by "[redacted]".
func (r *redactor) apply(s string, extra ...string) string {
	needles := r.needles
	if len(extra) > 0 {
		more := &redactor{needles: append([]string(nil), r.needles...)}
		more.add(extra...)
		needles = more.needles
	}
	// The marker beside the text around a secret can spell a secret
	// again ("]00" in "[redacted]00"): replace until nothing changes, and
	// give up on a text that still changes after a few passes.
	for range maxRedactPasses {
		out := s
		for _, n := range needles {
			out = replaceFold(out, n)
		}
		if out == s {
			return s
		}
		s = out
	}
	return redacted
}

// maxRedactPasses bounds the passes of apply. Each pass that changes the
// text replaces some of its own characters (a secret spelled with a
// marker's takes text too, or the secret lies inside the marker, which
// newRedactor's callers never have): a few passes settle any real text.
const maxRedactPasses = 8

// replaceFold replaces every occurrence of needle in s, ignoring letter
// case, with "[redacted]".
func replaceFold(s, needle string) string {
	ls, ln := strings.ToLower(s), strings.ToLower(needle)
	if len(ls) != len(s) || len(ln) != len(needle) {
		// Case folding changed byte lengths (rare non-ASCII text): fold
		// ASCII letters only, which keeps offsets.
		ls, ln = asciiLower(s), asciiLower(needle)
	}
	if ln == "" || !strings.Contains(ls, ln) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(ls, ln)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(redacted)
		s, ls = s[i+len(ln):], ls[i+len(ln):]
	}
}

// asciiLower lowers ASCII letters only, keeping byte offsets.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
