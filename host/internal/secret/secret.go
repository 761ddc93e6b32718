// Package secret finds, masks, redacts and seals the secret values of sink
// configurations. A configuration key holds a secret when its name says so
// (see IsKey); everything that shows or stores a configuration goes through
// this package.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"sort"
	"strings"
)

// Masked is what listings and status show instead of a secret value.
const Masked = "********"

// ErrPlaintext is returned by Seal when a secret would be stored in clear
// and plaintext is not allowed.
var ErrPlaintext = errors.New("refusing to store secrets in clear: set secrets.key (or secrets.allow_plaintext)")

// IsKey reports whether a configuration key holds a secret: its name
// contains "secret", "password", "token" or "private", or is "client_key"
// or "client_key_pem".
func IsKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"secret", "password", "token", "private"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return k == "client_key" || k == "client_key_pem"
}

// Mask returns a copy of cfg with secret values replaced by Masked (empty
// secrets stay empty, so a form can tell "not set").
func Mask(cfg map[string]any) map[string]any {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		switch {
		case IsKey(k):
			if s, ok := v.(string); !ok || s != "" {
				out[k] = Masked
			} else {
				out[k] = ""
			}
		default:
			if m, ok := v.(map[string]any); ok {
				out[k] = Mask(m)
			} else {
				out[k] = v
			}
		}
	}
	return out
}

// Values lists the secret strings of cfg (nested maps included), longest
// first, for Redact.
func Values(cfg map[string]any) []string {
	var out []string
	var walk func(map[string]any)
	walk = func(m map[string]any) {
		for k, v := range m {
			if s, ok := v.(string); ok && IsKey(k) && len(s) >= 4 {
				out = append(out, s)
			}
			if sub, ok := v.(map[string]any); ok {
				walk(sub)
			}
		}
	}
	walk(cfg)
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Redact replaces every value of secrets in msg with Masked.
func Redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, Masked)
	}
	return msg
}

// Merge fills secret keys of next that are empty or Masked with the values
// of prev, so a form that never saw the secret can save other changes. It
// does so only when next still points where prev did: a stored secret is
// never sent to a destination (an endpoint, URL, host, address or server
// setting) it was not entered for. ok is false when a secret was left out
// for a changed destination; missing then lists the secret keys of prev,
// sorted.
func Merge(next, prev map[string]any) (merged map[string]any, missing []string, ok bool) {
	out := maps.Clone(next)
	needs := false
	for k, v := range prev {
		if !IsKey(k) {
			continue
		}
		if cur, present := out[k]; !present || cur == nil || cur == "" || cur == Masked {
			out[k] = v
			needs = true
		}
	}
	if needs && !sameDestination(next, prev) {
		for k := range prev {
			if IsKey(k) {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		return next, missing, false
	}
	return out, nil, true
}

// sameDestination reports whether the destination settings of a and b are
// equal.
func sameDestination(a, b map[string]any) bool {
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if isDestinationKey(k) && !sameAddress(a[k], b[k]) {
				return false
			}
		}
	}
	return true
}

func isDestinationKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"endpoint", "url", "host", "address", "server"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Box encrypts secret values for storage with AES-256-GCM. Without a key
// it stores them in clear when allowed. A Box is safe for concurrent use.
type Box struct {
	aead           cipher.AEAD
	allowPlaintext bool
}

const encPrefix = "enc:v1:"

// NewBox returns a box for a base64-encoded 32-byte key; an empty key
// makes a box that stores secrets in clear if allowPlaintext, and refuses
// them otherwise.
func NewBox(key string, allowPlaintext bool) (*Box, error) {
	b := &Box{allowPlaintext: allowPlaintext}
	if key == "" {
		return b, nil
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return nil, errors.New("secrets.key is not the base64 encoding of 32 bytes")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("secrets.key: %w", err)
	}
	b.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets.key: %w", err)
	}
	return b, nil
}

// Seal returns cfg with secret strings encrypted, binding each to its
// organization, integration and key so a value cannot be moved elsewhere.
// Without a key it fails with ErrPlaintext unless plaintext is allowed.
func (b *Box) Seal(org, id string, cfg map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		s, ok := v.(string)
		if !IsKey(k) || !ok || s == "" {
			out[k] = v
			continue
		}
		if b.aead == nil {
			if !b.allowPlaintext {
				return nil, ErrPlaintext
			}
			out[k] = s
			continue
		}
		nonce := make([]byte, b.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt secret: %w", err)
		}
		sealed := b.aead.Seal(nonce, nonce, []byte(s), []byte(org+"\x00"+id+"\x00"+k))
		out[k] = encPrefix + base64.StdEncoding.EncodeToString(sealed)
	}
	return out, nil
}

// Open reverses Seal.
func (b *Box) Open(org, id string, cfg map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, encPrefix) {
			out[k] = v
			continue
		}
		if b.aead == nil {
			return nil, fmt.Errorf("integration %s/%s has encrypted secrets but secrets.key is not set", org, id)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, encPrefix))
		ns := b.aead.NonceSize()
		if err != nil || len(raw) < ns {
			return nil, fmt.Errorf("integration %s/%s: secret %q is corrupt", org, id, k)
		}
		plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(org+"\x00"+id+"\x00"+k))
		if err != nil {
			return nil, fmt.Errorf("integration %s/%s: secret %q cannot be decrypted with secrets.key", org, id, k)
		}
		out[k] = string(plain)
	}
	return out, nil
}

// sameAddress reports whether two values of a destination setting name the
// same place, so that a saved secret may be reused: URLs compare by
// scheme, host (case-insensitively) and path, where a trailing xAPI
// resource ("statements" or "about"), a query after it and trailing
// slashes do not count (an admin pasting .../statements or .../about of
// the same LRS has not changed its address). Other values compare as
// text.
func sameAddress(a, b any) bool {
	as, bs := fmt.Sprint(a), fmt.Sprint(b)
	if as == bs {
		return true
	}
	an, aok := addressKey(as)
	bn, bok := addressKey(bs)
	return aok && bok && an == bn
}

// addressKey reduces a URL to what sameAddress compares; ok is false for
// a value that is not an absolute http(s) URL.
func addressKey(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		switch strings.ToLower(path[i+1:]) {
		case "statements", "about":
			path = strings.TrimRight(path[:i], "/")
		default:
			if u.RawQuery != "" {
				return "", false // a query on the base is a different address
			}
		}
	}
	return scheme + "://" + strings.ToLower(u.Host) + path + "/", true
}
