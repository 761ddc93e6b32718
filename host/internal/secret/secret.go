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
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
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
// secrets stay empty, so a form can tell "not set"). It looks at every
// depth: maps, and maps inside lists. A secret key masks its whole value,
// whatever its type.
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
			out[k] = maskValue(v)
		}
	}
	return out
}

func maskValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return Mask(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = maskValue(x[i])
		}
		return out
	default:
		return v
	}
}

// Values lists the secret strings of cfg at any depth (maps, lists, and
// every string inside a value held by a secret key), longest first, for
// Redact. Strings shorter than 4 bytes are left out: redacting them would
// garble every message.
func Values(cfg map[string]any) []string {
	var out []string
	var walk func(v any, secret bool)
	walk = func(v any, secret bool) {
		switch x := v.(type) {
		case string:
			if secret && len(x) >= 4 {
				out = append(out, x)
			}
		case map[string]any:
			for k, sub := range x {
				walk(sub, secret || IsKey(k))
			}
		case []any:
			for _, sub := range x {
				walk(sub, secret)
			}
		}
	}
	walk(cfg, false)
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return slices.Compact(out)
}

// Merge fills secret values of next that are empty or Masked with the
// values of prev, at any depth (maps, and lists of the same length), so a
// form that never saw the secrets can save other changes. It does so only
// when next still points where prev did: a stored secret is never sent to
// a destination (an endpoint, URL, host, address or server setting, at any
// depth) it was not entered for. ok is false when a secret was left out
// for a changed destination; missing then lists the paths of the secrets
// of prev ("secret", "auth.password"), sorted.
func Merge(next, prev map[string]any) (merged map[string]any, missing []string, ok bool) {
	m := merger{}
	out := m.mergeMap(next, prev, "")
	if m.needs && !sameDestination(next, prev) {
		sort.Strings(m.paths)
		return next, m.paths, false
	}
	return out, nil, true
}

// merger fills the secrets of one configuration from another.
type merger struct {
	needs bool     // a secret was taken from prev
	paths []string // the paths of prev's secrets
}

func (m *merger) mergeMap(next, prev map[string]any, path string) map[string]any {
	out := maps.Clone(next)
	if out == nil {
		out = map[string]any{}
	}
	for k, pv := range prev {
		p := joinPath(path, k)
		cur, present := out[k]
		if IsKey(k) {
			m.paths = append(m.paths, p)
			if !present || cur == nil || cur == "" || cur == Masked {
				out[k] = pv
				m.needs = true
			}
			continue
		}
		if present {
			out[k] = m.mergeValue(cur, pv, p)
		}
	}
	return out
}

func (m *merger) mergeValue(cur, prev any, path string) any {
	switch c := cur.(type) {
	case map[string]any:
		if pm, ok := prev.(map[string]any); ok {
			return m.mergeMap(c, pm, path)
		}
	case []any:
		if pl, ok := prev.([]any); ok && len(pl) == len(c) {
			out := make([]any, len(c))
			for i := range c {
				out[i] = m.mergeValue(c[i], pl[i], fmt.Sprintf("%s[%d]", path, i))
			}
			return out
		}
	}
	return cur
}

// sameDestination reports whether the destination settings of a and b,
// at any depth, are equal.
func sameDestination(a, b map[string]any) bool {
	da, db := map[string]string{}, map[string]string{}
	destinations(a, "", da)
	destinations(b, "", db)
	return maps.Equal(da, db)
}

// destinations collects the destination settings of v by path.
func destinations(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			p := joinPath(path, k)
			if isDestinationKey(k) {
				out[p] = destinationValue(sub)
			}
			destinations(sub, p, out)
		}
	case []any:
		for i, sub := range x {
			destinations(sub, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
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

// Prefixes of sealed values: a sealed string, and the sealed JSON
// encoding of a value of another type.
const (
	encPrefix     = "enc:v1:"
	encJSONPrefix = "enc:v1json:"
)

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

// Seal returns cfg with every secret value encrypted, at any depth (the
// values Mask hides: strings, and whole maps, lists or numbers held by a
// secret key), binding each to its organization, integration and path
// (for example "tls.client_key" or "headers[1].token") so a value cannot
// be moved elsewhere. Without a key it fails with ErrPlaintext unless
// plaintext is allowed.
func (b *Box) Seal(org, id string, cfg map[string]any) (map[string]any, error) {
	out, err := b.sealMap(org, id, "", cfg)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b *Box) sealMap(org, id, path string, m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		p := joinPath(path, k)
		var err error
		if IsKey(k) {
			out[k], err = b.sealValue(org, id, p, v)
		} else {
			out[k], err = b.sealWalk(org, id, p, v)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (b *Box) sealWalk(org, id, path string, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return b.sealMap(org, id, path, x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			var err error
			if out[i], err = b.sealWalk(org, id, fmt.Sprintf("%s[%d]", path, i), x[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

// sealValue encrypts the value of a secret key: a string as it is,
// anything else as its JSON encoding.
func (b *Box) sealValue(org, id, path string, v any) (any, error) {
	if v == nil || v == "" {
		return v, nil
	}
	prefix := encPrefix
	s, isString := v.(string)
	if !isString {
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encrypt secret %q: %w", path, err)
		}
		prefix, s = encJSONPrefix, string(j)
	}
	if b.aead == nil {
		if !b.allowPlaintext {
			return nil, ErrPlaintext
		}
		return v, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt secret: %w", err)
	}
	sealed := b.aead.Seal(nonce, nonce, []byte(s), aad(org, id, path))
	return prefix + base64.StdEncoding.EncodeToString(sealed), nil
}

func aad(org, id, path string) []byte { return []byte(org + "\x00" + id + "\x00" + path) }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Open reverses Seal.
func (b *Box) Open(org, id string, cfg map[string]any) (map[string]any, error) {
	out, err := b.openWalk(org, id, "", cfg)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

func (b *Box) openWalk(org, id, path string, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, sub := range x {
			var err error
			if out[k], err = b.openWalk(org, id, joinPath(path, k), sub); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i := range x {
			var err error
			if out[i], err = b.openWalk(org, id, fmt.Sprintf("%s[%d]", path, i), x[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		return b.openString(org, id, path, x)
	default:
		return v, nil
	}
}

func (b *Box) openString(org, id, path, s string) (any, error) {
	prefix := encPrefix
	if strings.HasPrefix(s, encJSONPrefix) {
		prefix = encJSONPrefix
	} else if !strings.HasPrefix(s, encPrefix) {
		return s, nil
	}
	if b.aead == nil {
		return nil, fmt.Errorf("integration %s/%s has encrypted secrets but secrets.key is not set", org, id)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, prefix))
	ns := b.aead.NonceSize()
	if err != nil || len(raw) < ns {
		return nil, fmt.Errorf("integration %s/%s: secret %q is corrupt", org, id, path)
	}
	plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], aad(org, id, path))
	if err != nil {
		return nil, fmt.Errorf("integration %s/%s: secret %q cannot be decrypted with secrets.key", org, id, path)
	}
	if prefix == encPrefix {
		return string(plain), nil
	}
	var v any
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, fmt.Errorf("integration %s/%s: secret %q is corrupt", org, id, path)
	}
	return v, nil
}

// InClear reports whether cfg holds a secret value that Seal would
// encrypt but that is not encrypted: a file written before nested secrets
// were sealed, to be written again.
func (b *Box) InClear(cfg map[string]any) bool {
	if b.aead == nil {
		return false
	}
	var walk func(v any, secret bool) bool
	walk = func(v any, secret bool) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				if walk(sub, secret || IsKey(k)) {
					return true
				}
			}
		case []any:
			for _, sub := range x {
				if walk(sub, secret) {
					return true
				}
			}
		case string:
			return secret && x != "" && !strings.HasPrefix(x, encPrefix) && !strings.HasPrefix(x, encJSONPrefix)
		case nil:
		default:
			return secret
		}
		return false
	}
	return walk(cfg, false)
}

// destinationValue is what sameDestination compares of a destination
// setting: for an http(s) URL the address sameAddress compares, otherwise
// the text.
func destinationValue(v any) string {
	s := fmt.Sprint(v)
	if key, ok := addressKey(s); ok {
		return key
	}
	return s
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
