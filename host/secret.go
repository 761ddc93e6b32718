package host

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Masked is what listings and status show instead of a secret value. Saving
// an integration whose secret field holds Masked (or is empty) keeps the
// secret saved before.
const Masked = "********"

// ErrPlaintextSecrets is returned when an integration with a secret would be
// persisted without a secrets key and the configuration does not allow
// plaintext secrets.
var ErrPlaintextSecrets = errors.New("refusing to store secrets in clear: set secrets.key (or secrets.allow_plaintext)")

// IsSecretKey reports whether a sink configuration key holds a secret: its
// name contains "secret", "password", "token" or "private", or is
// "client_key".
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"secret", "password", "token", "private"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return k == "client_key" || k == "client_key_pem"
}

// maskConfig returns a copy of cfg with secret values replaced by Masked.
func maskConfig(cfg map[string]any) map[string]any {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		switch {
		case IsSecretKey(k):
			if s, ok := v.(string); !ok || s != "" {
				out[k] = Masked
			} else {
				out[k] = ""
			}
		default:
			if m, ok := v.(map[string]any); ok {
				out[k] = maskConfig(m)
			} else {
				out[k] = v
			}
		}
	}
	return out
}

// secretValues lists the secret strings of cfg, longest first, for
// redaction of messages.
func secretValues(cfg map[string]any) []string {
	var out []string
	var walk func(map[string]any)
	walk = func(m map[string]any) {
		for k, v := range m {
			if s, ok := v.(string); ok && IsSecretKey(k) && len(s) >= 4 {
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

// redact replaces every secret of secrets in msg with Masked.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, Masked)
	}
	return msg
}

// secretBox encrypts secret values for storage with AES-256-GCM. A nil key
// stores them in clear when allowed.
type secretBox struct {
	aead           cipher.AEAD
	allowPlaintext bool
}

const encPrefix = "enc:v1:"

func newSecretBox(cfg SecretsConfig) (*secretBox, error) {
	b := &secretBox{allowPlaintext: cfg.AllowPlaintext}
	if cfg.Key == "" {
		return b, nil
	}
	key, err := base64.StdEncoding.DecodeString(cfg.Key)
	if err != nil || len(key) != 32 {
		return nil, errors.New("secrets.key is not the base64 encoding of 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets.key: %w", err)
	}
	b.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets.key: %w", err)
	}
	return b, nil
}

// seal returns cfg with secret strings encrypted, binding each to its
// organization, integration and key so a value cannot be moved elsewhere.
func (b *secretBox) seal(org, id string, cfg map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		s, ok := v.(string)
		if !IsSecretKey(k) || !ok || s == "" {
			out[k] = v
			continue
		}
		if b.aead == nil {
			if !b.allowPlaintext {
				return nil, ErrPlaintextSecrets
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

// open reverses seal.
func (b *secretBox) open(org, id string, cfg map[string]any) (map[string]any, error) {
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
