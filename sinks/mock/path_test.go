package mock

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []pathStep
		wantErr bool
	}{
		{name: "keys", in: "verb.id", want: []pathStep{{key: "verb"}, {key: "id"}}},
		{name: "index", in: "context.contextActivities.parent[1].id", want: []pathStep{
			{key: "context"}, {key: "contextActivities"}, {key: "parent"}, {index: 1, isIdx: true}, {key: "id"}}},
		{name: "quoted key with dots", in: `context.extensions["https://example.com/a.b"].level`, want: []pathStep{
			{key: "context"}, {key: "extensions"}, {key: "https://example.com/a.b"}, {key: "level"}}},
		{name: "leading index", in: "[0]", want: []pathStep{{index: 0, isIdx: true}}},
		{name: "empty", in: "", wantErr: true},
		{name: "empty key", in: "verb..id", wantErr: true},
		{name: "trailing dot", in: "verb.", wantErr: true},
		{name: "bad index", in: "a[-1]", wantErr: true},
		{name: "unterminated index", in: "a[1", wantErr: true},
		{name: "unterminated quote", in: `a["x`, wantErr: true},
		{name: "junk after index", in: "a[1]b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parsePath(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parsePath(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(pathStep{})); diff != "" {
				t.Errorf("parsePath(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzParsePath checks that any path either parses into steps that lookup
// can walk or is a clean error.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"verb.id", `a["b.c"][2].d`, "[", `["`, "a[99999999999999999999]", "..", "a.b[0"} {
		f.Add(s)
	}
	doc := map[string]any{"a": []any{map[string]any{"b": "c"}}}
	f.Fuzz(func(t *testing.T, p string) {
		steps, err := parsePath(p)
		if err != nil {
			return
		}
		if len(steps) == 0 {
			t.Fatalf("parsePath(%q) = no steps and no error", p)
		}
		lookup(doc, steps)
	})
}
