package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
)

func TestErrorSummary(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"deliver: lrs: post statements: the LRS answered 503 Service Unavailable", "The LRS answered 503 Service Unavailable."},
		{"dial tcp 127.0.0.1:9: connect: connection refused", "Connection refused."},
		{"lrs: 401", "Lrs: 401."},
		{"lrs: the LRS rejected the credentials.", "The LRS rejected the credentials."},
		{"post: écrit refusé par le serveur", "Écrit refusé par le serveur."},
		{strings.Repeat("x", 200), strings.Repeat("X", 1) + strings.Repeat("x", 158) + "…"},
	}
	for _, tt := range tests {
		if got := ErrorSummary(tt.in); got != tt.want {
			t.Errorf("ErrorSummary(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzErrorSummary(f *testing.F) {
	f.Add("deliver: lrs: post statements: the LRS answered 503")
	f.Add("\xff: x")
	f.Fuzz(func(t *testing.T, msg string) {
		got := ErrorSummary(msg)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 161 {
			t.Fatalf("ErrorSummary(%q) = %q: not valid UTF-8 or too long", msg, got)
		}
		if strings.TrimSpace(msg) != "" && got == "" {
			t.Fatalf("ErrorSummary(%q) is empty", msg)
		}
	})
}

// TestStateTextCoversEveryState keeps the plain words in step with the
// host's states.
func TestStateTextCoversEveryState(t *testing.T) {
	t.Parallel()
	for _, s := range host.States {
		text, next := StateText(s)
		if text == s || next == "" || strings.Contains(text, "_") {
			t.Errorf("StateText(%q) = %q, %q: want plain words and a next step", s, text, next)
		}
	}
}

// TestStateWordsNameTheCredentialsOfTheMode: a paused integration names
// the credentials of its authentication mode, and for OAuth 2.0 which
// server refused them.
func TestStateWordsNameTheCredentialsOfTheMode(t *testing.T) {
	t.Parallel()
	const tokenRefused = "deliver: lrs: oauth2 token: the authorization server rejected the client id or client secret; check them in the integration settings (token endpoint answered 401, invalid_client)"
	const lrsRefused = "deliver: lrs: the LRS rejected the access token (401)"
	tests := []struct {
		name, state, auth, lastError string
		want                         [2]string
	}{
		{"basic", host.StatePausedAuth, "", lrsRefused, [2]string{"Paused: the LRS refused the credentials", "Enter the new secret and test again."}},
		{"basic named", host.StatePausedAuth, "basic", "401", [2]string{"Paused: the LRS refused the credentials", "Enter the new secret and test again."}},
		{"oauth2, token endpoint refused", host.StatePausedAuth, "oauth2", tokenRefused,
			[2]string{"Paused: the token endpoint refused the client credentials", "Enter the new client secret and test again."}},
		{"oauth2, LRS refused the token", host.StatePausedAuth, "oauth2", lrsRefused,
			[2]string{"Paused: the LRS refused the access token", "Check with the LRS's administrator that this client may send statements (its scopes), then test again."}},
		{"bearer", host.StatePausedAuth, "bearer", lrsRefused, [2]string{"Paused: the LRS refused the bearer token", "Enter the new bearer token and test again."}},
		{"oauth2 retrying", host.StateRetrying, "oauth2", "503",
			[2]string{"Retrying: the last delivery failed", "Statements are kept and sent again by themselves. If this lasts, check that the LRS and its token endpoint are up."}},
		{"oauth2 waiting", host.StateBreakerOpen, "oauth2", "503",
			[2]string{"Waiting: the LRS is not answering", "Statements are kept and sent when it answers again. Check that the LRS and its token endpoint are up."}},
		{"oauth2 active", host.StateActive, "oauth2", tokenRefused, [2]string{"Active", "Statements are delivered as they arrive. Nothing to do."}},
		{"bearer, settings not valid", host.StatePausedConfig, "bearer", "", [2]string{"Paused: the LRS settings are not valid", "Correct the settings and test again."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, next := stateWords(tt.state, tt.auth, tt.lastError)
			if diff := cmp.Diff(tt.want, [2]string{text, next}); diff != "" {
				t.Errorf("stateWords(%q, %q) (-want +got):\n%s", tt.state, tt.auth, diff)
			}
		})
	}
}
