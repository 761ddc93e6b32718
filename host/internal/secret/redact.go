package secret

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Redact replaces in msg every form of secrets a message may carry with
// Masked: the value itself in any letter case, its URL (query and path)
// and JSON encodings, and any base64 token (standard or URL alphabet,
// padded or not) whose decoding contains a secret, such as an HTTP Basic
// credential base64(key:secret) or base64(secret) echoed by a server.
//
// Masked beside the text around a secret can spell a secret again ("*abc"
// in "********abc"): Redact replaces until nothing changes, and returns
// Masked alone for a message that still changes after a few passes.
func Redact(msg string, secrets []string) string {
	if len(secrets) == 0 || msg == "" {
		return msg
	}
	var alts, binary []string
	seen := map[string]bool{}
	for _, s := range secrets {
		for _, f := range forms(s) {
			switch {
			case f == "" || seen[f]:
			case !utf8.ValidString(f):
				// Not text: no letter case to ignore.
				binary = append(binary, f)
			default:
				seen[f] = true
				alts = append(alts, regexp.QuoteMeta(f))
			}
		}
	}
	var re *regexp.Regexp
	if len(alts) > 0 {
		re = regexp.MustCompile("(?i)" + strings.Join(alts, "|"))
	}
	for range maxRedactPasses {
		out := redactBase64(msg, secrets)
		for _, f := range binary {
			out = strings.ReplaceAll(out, f, Masked)
		}
		if re != nil {
			out = re.ReplaceAllLiteralString(out, Masked)
		}
		if out == msg {
			return msg
		}
		msg = out
	}
	return Masked
}

// maxRedactPasses bounds the passes of Redact. Each pass that changes the
// message replaces some of its own characters (a secret spelled with
// Masked's takes text too, or the secret lies inside Masked): a few
// passes settle any real message.
const maxRedactPasses = 8

// forms returns the encodings of s that Redact looks for, besides base64.
func forms(s string) []string {
	out := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if j, err := json.Marshal(s); err == nil {
		js := strings.Trim(string(j), `"`)
		out = append(out, js, strings.ReplaceAll(js, "/", `\/`))
	}
	return out
}

// base64Token matches runs of base64 characters long enough to hide a
// secret of 4 bytes or more.
var base64Token = regexp.MustCompile(`[A-Za-z0-9+/_-]{6,}={0,2}`)

var base64Encodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
}

func redactBase64(msg string, secrets []string) string {
	return base64Token.ReplaceAllStringFunc(msg, func(tok string) string {
		if decodedHolds(tok, secrets) {
			return Masked
		}
		return tok
	})
}

// decodedHolds reports whether tok, decoded as base64 (ignoring up to
// three trailing characters that break the alignment), holds a secret in
// any letter case.
func decodedHolds(tok string, secrets []string) bool {
	for trim := 0; trim <= 3 && trim < len(tok); trim++ {
		t := tok[:len(tok)-trim]
		for _, enc := range base64Encodings {
			raw, err := enc.DecodeString(t)
			if err != nil || len(raw) < 4 {
				continue
			}
			dec := strings.ToLower(string(raw))
			for _, s := range secrets {
				if strings.Contains(dec, strings.ToLower(s)) {
					return true
				}
			}
		}
	}
	return false
}

// Excerpt shortens msg to at most n bytes (on a character boundary),
// marking the cut with "…". Redact first: a cut secret is no longer
// recognized.
func Excerpt(msg string, n int) string {
	if len(msg) <= n {
		return msg
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// MaxShown is how many bytes of a message from a sink (an error, a
// response excerpt) status, reports and errors show.
const MaxShown = 512

// Shown is msg as the host may show it: redacted, then cut to MaxShown.
func Shown(msg string, secrets []string) string {
	return Excerpt(Redact(msg, secrets), MaxShown)
}
