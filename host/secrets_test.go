package host

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeptSecrets(t *testing.T) {
	t.Parallel()
	prev := map[string]any{"endpoint": "https://lrs.example/xapi/", "auth": "oauth2", "oauth_endpoint": "https://lrs.example/token",
		"client_id": "lf", "client_secret": "cs", "tls": map[string]any{"client_key": "k"}}
	tests := []struct {
		name string
		next map[string]any
		want map[string]any
	}{
		{
			name: "secret named empty: kept",
			next: map[string]any{"endpoint": "https://lrs.example/xapi/", "client_secret": ""},
			want: prev,
		},
		{
			name: "secret named masked: kept",
			next: map[string]any{"client_secret": Masked},
			want: prev,
		},
		{
			name: "secret left out (another mode): dropped; other settings and nested maps stay",
			next: map[string]any{"endpoint": "https://lrs.example/xapi/", "auth": "bearer", "bearer_token": "t"},
			want: map[string]any{"endpoint": "https://lrs.example/xapi/", "auth": "oauth2", "oauth_endpoint": "https://lrs.example/token",
				"client_id": "lf", "tls": map[string]any{"client_key": "k"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, keptSecrets(tt.next, prev)); diff != "" {
				t.Errorf("keptSecrets (-want +got):\n%s", diff)
			}
		})
	}
}
