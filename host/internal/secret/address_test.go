package secret

import "testing"

func TestSameAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"equal", "https://lrs.example/xapi/", "https://lrs.example/xapi/", true},
		{"statements pasted", "https://lrs.example/xapi/", "https://lrs.example/xapi/statements", true},
		{"about pasted with slash", "https://lrs.example/xapi", "https://LRS.example/xapi/about/", true},
		{"statements with query", "https://lrs.example/xapi/", "https://lrs.example/xapi/statements?limit=1", true},
		{"other host", "https://lrs.example/xapi/", "https://evil.example/xapi/", false},
		{"other path", "https://lrs.example/xapi/", "https://lrs.example/other/", false},
		{"other scheme", "https://lrs.example/xapi/", "http://lrs.example/xapi/", false},
		{"other port", "https://lrs.example/xapi/", "https://lrs.example:8443/xapi/", false},
		{"query on base", "https://lrs.example/xapi/", "https://lrs.example/xapi/?x=1", false},
		{"user info", "https://lrs.example/xapi/", "https://u@lrs.example/xapi/", false},
		{"not URLs", "a", "b", false},
		{"same text", "a", "a", true},
		{"missing", "https://lrs.example/xapi/", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameAddress(tt.a, tt.b); got != tt.want {
				t.Errorf("sameAddress(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := sameAddress(tt.b, tt.a); got != tt.want {
				t.Errorf("sameAddress(%v, %v) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func FuzzSameAddress(f *testing.F) {
	f.Add("https://lrs.example/xapi/", "https://lrs.example/xapi/statements")
	f.Add("http://a/b?c", "http://A/b/about?x")
	f.Fuzz(func(t *testing.T, a, b string) {
		if sameAddress(a, b) != sameAddress(b, a) {
			t.Fatalf("not symmetric for %q, %q", a, b)
		}
		if !sameAddress(a, a) {
			t.Fatalf("%q differs from itself", a)
		}
	})
}
