package xapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// problemKey is what tests compare: where and which rule, not the message.
type problemKey struct {
	Path string
	Rule Rule
}

func keysOf(ps Problems) []problemKey {
	var out []problemKey
	for _, p := range ps {
		out = append(out, problemKey{p.Path, p.Rule})
	}
	return out
}

func parseProblems(t *testing.T, data string) []problemKey {
	t.Helper()
	_, err := Parse([]byte(data))
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, want Problems", err)
	}
	return keysOf(ps)
}

const minimal = `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"http://example.com/a"}}`

func TestParseStrictness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []problemKey
	}{
		{name: "minimal statement", in: minimal},
		{
			name: "wrong case key at top level",
			in:   `{"Actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"}}`,
			want: []problemKey{{"Actor", RuleUnknownKey}},
		},
		{
			name: "unknown key deep in a definition and in a component",
			in: `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a",
				"definition":{"interactionType":"choice","choices":[{"id":"a"},{"id":"b","label":"x"}],"color":"red"}}}`,
			want: []problemKey{
				{"object.definition.choices[1].label", RuleUnknownKey},
				{"object.definition.color", RuleUnknownKey},
			},
		},
		{
			name: "null outside extensions",
			in:   `{"actor":{"mbox":"mailto:a@example.com","name":null},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"result":null}`,
			want: []problemKey{{"actor.name", RuleNull}, {"result", RuleNull}},
		},
		{
			name: "null inside extensions is allowed",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"result":{"extensions":{"http://x.example/e":null,"http://x.example/f":{}}}}`,
		},
		{
			name: "strings where booleans and numbers belong",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"result":{"success":"true","score":{"raw":"85"}}}`,
			want: []problemKey{{"result.success", RuleJSONType}, {"result.score.raw", RuleJSONType}},
		},
		{
			name: "duplicate key",
			in:   `{"id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee","id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"}}`,
			want: []problemKey{{"id", RuleDuplicateKey}},
		},
		{
			name: "duplicate language tag",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v","display":{"en":"a","en":"b"}},"object":{"id":"http://x.example/a"}}`,
			want: []problemKey{{`verb.display["en"]`, RuleDuplicateKey}},
		},
		{
			name: "agent object without objectType is read as an activity",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"mbox":"mailto:b@example.com"}}`,
			want: []problemKey{{"object.mbox", RuleUnknownKey}},
		},
		{
			name: "unknown object type",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"objectType":"Thing","id":"http://x.example/a"}}`,
			want: []problemKey{{"object.objectType", RuleObjectType}},
		},
		{
			name: "member on an agent",
			in:   `{"actor":{"mbox":"mailto:a@example.com","member":[]},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"}}`,
			want: []problemKey{{"actor.member", RuleUnknownKey}},
		},
		{
			name: "nested substatement and substatement id",
			in: `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"objectType":"SubStatement","id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
				"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"objectType":"SubStatement"}}}`,
			want: []problemKey{{"object.id", RuleSubStatement}, {"object.object", RuleSubStatement}},
		},
		{
			name: "bad timestamp and duration",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"result":{"duration":"P4W1D"},"timestamp":"2024-01-02T03:04:05-00:00"}`,
			want: []problemKey{{"result.duration", RuleDuration}, {"timestamp", RuleTimestamp}},
		},
		{
			name: "unknown context activities key",
			in:   `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"context":{"contextActivities":{"parents":[]}}}`,
			want: []problemKey{{"context.contextActivities.parents", RuleUnknownKey}},
		},
		{
			name: "attachment length not an integer",
			in: `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},
				"attachments":[{"usageType":"http://x.example/u","display":{"en":"a"},"contentType":"text/plain","length":1.5,"sha2":"` + strings.Repeat("a", 64) + `"}]}`,
			want: []problemKey{{"attachments[0].length", RuleJSONType}},
		},
		{name: "syntax error", in: `{"actor":`, want: []problemKey{{"actor", RuleJSONSyntax}}},
		{name: "not an object", in: `[]`, want: []problemKey{{"", RuleJSONType}}},
		{name: "trailing data", in: minimal + `{}`, want: []problemKey{{"", RuleJSONSyntax}}},
		{name: "invalid utf-8", in: "{\"id\":\"\xff\"}", want: []problemKey{{"id", RuleJSONSyntax}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parseProblems(t, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSingleContextActivityBecomesList(t *testing.T) {
	t.Parallel()
	in := `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},
		"context":{"contextActivities":{"parent":{"id":"http://x.example/p"}}}}`
	st, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []Activity{{ID: "http://x.example/p"}}
	if diff := cmp.Diff(want, st.Context.ContextActivities.Parent); diff != "" {
		t.Errorf("parent (-want +got):\n%s", diff)
	}
	out, err := Marshal(st, V103)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"parent":[{"objectType":"Activity","id":"http://x.example/p"}]`)) {
		t.Errorf("parent not encoded as an array: %s", out)
	}
}

func TestMarshalCanonical(t *testing.T) {
	t.Parallel()
	// The same statement written two ways must encode to the same bytes.
	a := `{"verb":{"display":{"fr":"a tenté","en-US":"attempted"},"id":"http://adlnet.gov/expapi/verbs/attempted"},
		"timestamp":"2024-03-14T10:12:30.1234+01:00",
		"object":{"id":"http://example.com/a","objectType":"Activity"},
		"actor":{"mbox":"mailto:a@example.com","objectType":"Agent"},
		"result":{"score":{"raw":7.0,"max":1e1,"min":0,"scaled":0.70},"duration":"PT16559.14S",
			"extensions":{"http://x.example/b":{"z":1, "a":[true,null,"\u00e9"]},"http://x.example/a":"x"}}}`
	b := `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted","display":{"en-US":"attempted","fr":"a tent\u00e9"}},
		"object":{"id":"http://example.com/a"},"timestamp":"2024-03-14T09:12:30.123Z",
		"result":{"duration":"PT4H35M59.14S","score":{"scaled":0.7,"raw":7,"min":0,"max":10},
			"extensions":{"http://x.example/a":"x","http://x.example/b":{"a":[true,null,"é"],"z":1}}}}`
	want := `{"actor":{"objectType":"Agent","mbox":"mailto:a@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted","display":{"en-US":"attempted","fr":"a tenté"}},` +
		`"object":{"objectType":"Activity","id":"http://example.com/a"},` +
		`"result":{"score":{"scaled":0.7,"raw":7,"min":0,"max":10},"duration":"PT4H35M59.14S",` +
		`"extensions":{"http://x.example/a":"x","http://x.example/b":{"a":[true,null,"é"],"z":1}}},` +
		`"timestamp":"2024-03-14T09:12:30.123Z"}`
	for name, in := range map[string]string{"a": a, "b": b} {
		st, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		got, err := Marshal(st, V200)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", name, err)
		}
		if diff := cmp.Diff(want, string(got)); diff != "" {
			t.Errorf("%s: Marshal (-want +got):\n%s", name, diff)
		}
	}
}

func TestMarshalV103DropsV2Properties(t *testing.T) {
	t.Parallel()
	in := `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"version":"2.0.0",
		"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:b@example.com"},"relevantTypes":["http://x.example/t"]}],
		"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","member":[{"mbox":"mailto:c@example.com"}]}}],"language":"en"}}`
	st, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := Marshal(st, V200)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"contextAgents"`, `"contextGroups"`, `"version":"2.0.0"`} {
		if !bytes.Contains(v2, []byte(want)) {
			t.Errorf("2.0.0 encoding lacks %s: %s", want, v2)
		}
	}
	v1, err := Marshal(st, V103)
	if err != nil {
		t.Fatal(err)
	}
	wantV1 := `{"actor":{"objectType":"Agent","mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},` +
		`"object":{"objectType":"Activity","id":"http://x.example/a"},"context":{"language":"en"}}`
	if diff := cmp.Diff(wantV1, string(v1)); diff != "" {
		t.Errorf("1.0.3 encoding (-want +got):\n%s", diff)
	}
}

func TestMarshalErrors(t *testing.T) {
	t.Parallel()
	nan := func() *float64 { var z float64; f := z / z; return &f }()
	tests := []struct {
		name string
		st   Statement
		path string
	}{
		{"non-finite score", Statement{Result: &Result{Score: &Score{Raw: nan}}}, "result.score.raw"},
		{"extension not JSON", Statement{Context: &Context{Extensions: Extensions{"http://x.example/e": json.RawMessage(`{`)}}}, "context.extensions"},
		{"nested substatement", Statement{Object: &SubStatement{Object: &SubStatement{}}}, "object.object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Marshal(&tt.st, V200)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("Marshal error = %v, want *EncodeError", err)
			}
			if ee.Path != tt.path {
				t.Errorf("EncodeError.Path = %q, want %q", ee.Path, tt.path)
			}
		})
	}
}

func TestAppendStringEscapes(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"<b>&</b>", `"<b>&</b>"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\n\r\t\b\f\x01", `"\n\r\t\b\f\u0001"`},
		{"bad\xffutf8", "\"bad\ufffdutf8\""},
		{"é☃😀", `"é☃😀"`},
	}
	for _, tt := range tests {
		got := string(appendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("appendString(%q) is not JSON: %v", tt.in, err)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	t.Parallel()
	tenth, fifth := 0.1, 0.2 // variables: constant arithmetic would be exact
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {-0.0, "0"}, {1, "1"}, {0.7, "0.7"}, {-1, "-1"}, {85, "85"},
		{1e21, "1e+21"}, {1e-7, "1e-7"}, {123456789, "123456789"}, {tenth + fifth, "0.30000000000000004"},
	}
	for _, tt := range tests {
		if got := string(appendFloat(nil, tt.in)); got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseStatements(t *testing.T) {
	t.Parallel()
	pretty := "{\n  \"actor\": {\"mbox\": \"mailto:a@example.com\"},\n  \"verb\": {\"id\": \"http://x.example/v\"},\n  \"object\": {\"id\": \"http://x.example/a\"}\n}\n"
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{name: "array", in: "[" + minimal + "," + minimal + "]", want: 2},
		{name: "single pretty object", in: pretty, want: 1},
		{name: "ndjson with blank lines", in: minimal + "\n\n" + minimal + "\n" + `{"broken":` + "\n", want: 3},
		{name: "broken pretty object is one item", in: strings.TrimSuffix(pretty, "}\n"), want: 1},
		{name: "empty", in: " \n", wantErr: true},
		{name: "malformed array", in: "[" + minimal, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStatements([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStatements error = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != tt.want {
				t.Errorf("ParseStatements returned %d items, want %d", len(got), tt.want)
			}
		})
	}
}

func TestUnmarshalJSONIsStrict(t *testing.T) {
	t.Parallel()
	var st Statement
	err := json.Unmarshal([]byte(`{"actor":{"MBOX":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"}}`), &st)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("json.Unmarshal error = %v, want Problems", err)
	}
	if diff := cmp.Diff([]problemKey{{"actor.MBOX", RuleUnknownKey}}, keysOf(ps)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(minimal), &st); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(`{"actor":{"objectType":"Agent"`)) {
		t.Errorf("json.Marshal did not use the canonical encoding: %s", out)
	}
}

// roundTrip checks the codec property every accepted statement must have:
// encoding, decoding and encoding again yields an equal value and identical
// bytes, and the decoded value equals the original up to canonical
// precision.
func roundTrip(t *testing.T, data []byte, v Version) {
	t.Helper()
	st, probs := Check(data, v)
	if len(probs) > 0 {
		return
	}
	b1, err := Marshal(st, v)
	if err != nil {
		t.Fatalf("Marshal of accepted statement: %v", err)
	}
	st2, probs2 := Check(b1, v)
	if len(probs2) > 0 {
		t.Fatalf("canonical encoding is not valid: %v\n%s", probs2, b1)
	}
	b2, err := Marshal(st2, v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("encoding is not stable:\n%s\n%s", b1, b2)
	}
	st3, err := Parse(b2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st2, st3, equateCanonical()...); diff != "" {
		t.Fatalf("re-decoded value differs (-first +second):\n%s", diff)
	}
	if v == V200 {
		if diff := cmp.Diff(st, st2, equateCanonical()...); diff != "" {
			t.Fatalf("decoded canonical form differs from input (-input +canonical):\n%s", diff)
		}
		// A statement valid for 2.0.0 is deliverable to a 1.0.3 LRS:
		// its 1.0.3 encoding is valid for 1.0.3.
		b103, err := Marshal(st, V103)
		if err != nil {
			t.Fatal(err)
		}
		if _, probs := Check(b103, V103); len(probs) > 0 {
			t.Fatalf("2.0.0-valid statement encoded for 1.0.3 is not valid for 1.0.3: %v\n%s", probs, b103)
		}
	}
}

func equateCanonical() []cmp.Option {
	return []cmp.Option{
		cmp.Comparer(func(a, b time.Time) bool {
			return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
		}),
		cmp.Comparer(func(a, b json.RawMessage) bool {
			ca, errA := appendCanonicalJSON(nil, a)
			cb, errB := appendCanonicalJSON(nil, b)
			return errA == nil && errB == nil && bytes.Equal(ca, cb)
		}),
		cmpopts.EquateEmpty(),
	}
}

func TestRoundTripTestdata(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("testdata", "roundtrip", "*.json"))
	if len(files) == 0 {
		t.Fatal("no testdata/roundtrip files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, v := range []Version{V103, V200} {
				if _, probs := Check(data, V200); len(probs) > 0 {
					t.Fatalf("fixture is not valid for 2.0.0: %v", probs)
				}
				roundTrip(t, data, v)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "roundtrip", "*.json"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(minimal))
	f.Add([]byte(`{"actor":{"objectType":"Group","member":[{"openid":"http://x.example/o"}]},"verb":{"id":"urn:x:v"},"object":{"objectType":"StatementRef","id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}}`))
	f.Add([]byte(`{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"urn:x:v"},"object":{"id":"urn:x:o"},"result":{"extensions":{"urn:x:e":` +
		strings.Repeat(`[{"a":`, 300) + `1` + strings.Repeat(`}]`, 300) + `}}}`))
	f.Add([]byte(`{"unknown":[1,{"k":"\u00e9\n"},true,null,-0.5e3],"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"urn:x:v"},"object":{"id":"urn:x:o"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []Version{V103, V200} {
			roundTrip(t, data, v)
		}
		if _, probs := Check(data, V200); len(probs) == 0 {
			if !json.Valid(data) {
				t.Fatalf("accepted input that is not JSON: %q", data)
			}
			// The statement owns its strings: overwriting the input after
			// decoding changes nothing.
			in := bytes.Clone(data)
			st, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Marshal(st, V200)
			if err != nil {
				t.Fatal(err)
			}
			for i := range in {
				in[i] = 'x'
			}
			if got, err := Marshal(st, V200); err != nil || !bytes.Equal(want, got) {
				t.Fatalf("statement changed with its input: %v\n%s\n%s", err, want, got)
			}
		}
	})
}

// FuzzSkipValue checks the scanner's non-recursive skipping of values
// against encoding/json: a single value is accepted exactly when it is
// valid JSON in valid UTF-8.
func FuzzSkipValue(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `{"a":[1,2,{"b":null}]}`, `"\u00e9"`, `-0.5e3`, `[1,]`, `{"a" 1}`, `{"a":1,}`, `[[[`, `tru`,
		strings.Repeat("[", 700) + strings.Repeat("]", 700), `{"a":"\x"}`, "\"\x01\"", `[1 2]`, `{"a":1}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The scanner refuses invalid UTF-8, which encoding/json lets
		// through.
		_, ok := singleValue(data)
		if want := json.Valid(data) && utf8.Valid(data); ok != want {
			t.Fatalf("singleValue(%q) ok = %v, want %v (encoding/json and UTF-8)", data, ok, want)
		}
	})
}

func TestParseHostileInput(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"objectType":"Group","member":[`, 2000)
	tests := map[string]string{
		"deeply nested members":   `{"actor":` + deep,
		"deeply nested extension": `{"result":{"extensions":{"http://x.example/e":` + strings.Repeat("[", 100000) + `}}}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			got := parseProblems(t, in)
			if len(got) == 0 || got[len(got)-1].Rule != RuleJSONSyntax {
				t.Errorf("Parse problems = %v, want a json-syntax problem last", got)
			}
		})
	}
}

func TestForVersion(t *testing.T) {
	t.Parallel()
	enc := func(in string) []byte {
		st, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Marshal(st, V200)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plain := enc(minimal)
	v2 := enc(`{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://x.example/v"},"object":{"id":"http://x.example/a"},"version":"2.0.0",
		"result":{"extensions":{"http://x.example/e":{"version":"1.0"}}},
		"context":{"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","member":[{"mbox":"mailto:c@example.com"}]}}]}}`)
	tests := []struct {
		name   string
		in     []byte
		v      Version
		same   bool     // the input itself comes back
		absent []string // must not be in the output
		kept   []string // must be in the output
	}{
		{name: "nothing to drop", in: plain, v: V103, same: true},
		{name: "2.0 target keeps everything", in: v2, v: V200, same: true},
		{name: "1.0.3 target drops 2.0-only properties", in: v2, v: V103,
			absent: []string{`"contextGroups"`, `"version":"2.0.0"`}, kept: []string{`{"version":"1.0"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ForVersion(tt.in, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if tt.same && !bytes.Equal(got, tt.in) {
				t.Errorf("ForVersion changed the statement:\n%s\n%s", tt.in, got)
			}
			for _, a := range tt.absent {
				if bytes.Contains(got, []byte(a)) {
					t.Errorf("output still holds %s: %s", a, got)
				}
			}
			for _, k := range tt.kept {
				if !bytes.Contains(got, []byte(k)) {
					t.Errorf("output lost %s: %s", k, got)
				}
			}
			if tt.v == V103 {
				if _, probs := Check(got, V103); len(probs) > 0 {
					t.Errorf("output not valid for 1.0.3: %v", probs)
				}
			}
		})
	}
	if _, err := ForVersion([]byte(`{"version":`), V103); err == nil {
		t.Error("ForVersion of malformed bytes returned no error")
	}
}
