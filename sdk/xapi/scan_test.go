package xapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNestingTooDeep checks that a statement holding a value nested more
// deeply than MaxDepth is refused for that alone, at the value's path, and
// that everything around it is still read.
func TestNestingTooDeep(t *testing.T) {
	t.Parallel()
	objects := func(n int) string { return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) }
	arrays := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	statement := func(before, after string) string {
		return `{` + before + `"actor":{"mbox":"mailto:learner@example.com"},` +
			`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},` +
			`"object":{"id":"http://example.com/activities/1"}` + after + `}`
	}
	tests := []struct {
		name string
		in   string
		want Problems // nil: valid
	}{
		{
			name: "600 objects in a result extension",
			in:   statement(``, `,"result":{"extensions":{"http://example.com/x":`+objects(600)+`}}`),
			want: Problems{{Path: `result.extensions["http://example.com/x"]`, Rule: RuleDepth}},
		},
		{
			name: "600 arrays in a context extension before verb and object",
			in:   statement(`"context":{"extensions":{"http://example.com/x":`+arrays(600)+`}},`, ``),
			want: Problems{{Path: `context.extensions["http://example.com/x"]`, Rule: RuleDepth}},
		},
		{
			name: "600 objects under an unknown key first",
			in:   statement(`"extra":`+objects(600)+`,`, ``),
			want: Problems{{Path: `extra`, Rule: RuleUnknownKey}, {Path: `extra`, Rule: RuleDepth}},
		},
		{
			name: "deep but within the limit",
			in:   statement(``, `,"result":{"extensions":{"http://example.com/x":`+objects(MaxDepth-4)+`}}`),
		},
	}
	ignoreMessage := cmp.Transformer("noMessage", func(p Problem) Problem { p.Message = ""; return p })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, probs := Check([]byte(tt.in), V200)
			if diff := cmp.Diff(tt.want, probs, ignoreMessage); diff != "" {
				t.Errorf("Check problems (-want +got):\n%s", diff)
			}
			for _, p := range probs {
				if p.Rule == RuleDepth && !strings.Contains(p.Message, "nesting too deep") {
					t.Errorf("message %q does not say the nesting is too deep", p.Message)
				}
			}
			if st.Verb.ID == "" || st.Object == nil {
				t.Errorf("verb %q and object %v not read around the deep value", st.Verb.ID, st.Object)
			}
			// Split from a batch, the statement is reported the same way.
			raws, err := ParseStatements([]byte("[" + tt.in + "," + tt.in + "]"))
			if err != nil || len(raws) != 2 {
				t.Fatalf("ParseStatements = %d statements, %v; want 2", len(raws), err)
			}
			if _, got := Check(raws[1], V200); !cmp.Equal(tt.want, got, ignoreMessage) {
				t.Errorf("Check of the split statement = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTrailingNUL checks that a NUL byte after a value is data after it,
// not the end of the input.
func TestTrailingNUL(t *testing.T) {
	t.Parallel()
	in := []byte(`{"actor":{"mbox":"mailto:learner@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"}}` + "\x00")
	if _, err := Parse(in); err == nil {
		t.Error("Parse accepted a statement followed by a NUL byte")
	}
	if _, ok := singleValue([]byte("0\x00")); ok {
		t.Error(`singleValue accepted "0\x00"`)
	}
	if _, err := appendCanonicalJSON(nil, []byte("[1]\x00")); err == nil {
		t.Error("appendCanonicalJSON accepted a value followed by a NUL byte")
	}
}
