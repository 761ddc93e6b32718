package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"

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
	for _, s := range []string{host.StateActive, host.StateRetrying, host.StatePausedAuth, host.StatePausedConfig,
		host.StateBreakerOpen, host.StateBreakerHalfOpen, host.StateStopped, host.StateQueueError} {
		text, next := StateText(s)
		if text == s || next == "" || strings.Contains(text, "_") {
			t.Errorf("StateText(%q) = %q, %q: want plain words and a next step", s, text, next)
		}
	}
}
