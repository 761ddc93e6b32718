package host

import "github.com/learningflow/lrsbridge/host/internal/secret"

// Masked is what listings and status show instead of a secret value. Saving
// an integration whose secret field holds Masked (or is empty) keeps the
// secret saved before.
const Masked = "********"

// ErrPlaintextSecrets is returned when an integration with a secret would be
// persisted without a secrets key and the configuration does not allow
// plaintext secrets.
var ErrPlaintextSecrets = secret.ErrPlaintext

// IsSecretKey reports whether a sink configuration key holds a secret: its
// name contains "secret", "password", "token" or "private", or is
// "client_key" or "client_key_pem".
func IsSecretKey(key string) bool { return secret.IsKey(key) }

// keptSecrets returns prev without the secret settings that next leaves
// out: a saved secret is kept only where next names it (empty or Masked).
// A form that switches the authentication mode sends only the new mode's
// fields, so the other mode's secret is dropped rather than carried along
// (and its destination no longer matters).
func keptSecrets(next, prev map[string]any) map[string]any {
	out := make(map[string]any, len(prev))
	for k, v := range prev {
		if _, named := next[k]; named || !IsSecretKey(k) {
			out[k] = v
		}
	}
	return out
}
