package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// problemPrefixes keeps "#INDEX PATH: RULE" of each problem line and the
// summary line, dropping messages, which are for people.
func problemPrefixes(out string) []string {
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "#") {
			parts := strings.SplitN(line, ": ", 3)
			if len(parts) >= 2 {
				line = parts[0] + ": " + parts[1]
			}
		}
		got = append(got, line)
	}
	return got
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		stdin    string
		want     []string
		wantCode int
	}{
		{
			name: "ndjson with every kind of problem, for 1.0.3",
			args: []string{"testdata/mixed.ndjson"},
			want: []string{
				"#1 actor.mbox: mailto",
				"#1 object.definition.choices[1].id: component-id",
				"#1 result.score.scaled: score-scaled",
				"#2 Actor: unknown-key",
				"#2 actor: required",
				"#3 context.contextAgents: not-in-version",
				"#4 actor: json-syntax",
				"1 valid, 4 invalid",
			},
			wantCode: 1,
		},
		{
			name: "contextAgents are fine for 2.0.0",
			args: []string{"-version", "2.0.0", "testdata/mixed.ndjson"},
			want: []string{
				"#1 actor.mbox: mailto",
				"#1 object.definition.choices[1].id: component-id",
				"#1 result.score.scaled: score-scaled",
				"#2 Actor: unknown-key",
				"#2 actor: required",
				"#4 actor: json-syntax",
				"2 valid, 3 invalid",
			},
			wantCode: 1,
		},
		{
			name:     "valid array",
			args:     []string{"-version", "1.0.3", "testdata/valid-array.json"},
			want:     []string{"2 valid, 0 invalid"},
			wantCode: 0,
		},
		{
			name:     "stdin",
			args:     []string{"-"},
			stdin:    `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"id":"http://example.com/a"}}`,
			want:     []string{"#0 object: voiding", "0 valid, 1 invalid"},
			wantCode: 1,
		},
		{name: "unreadable array", args: []string{"testdata/broken-array.json"}, want: []string{""}, wantCode: 2},
		{name: "missing file", args: []string{"testdata/no-such-file.json"}, want: []string{""}, wantCode: 2},
		{name: "bad version", args: []string{"-version", "0.95", "testdata/valid-array.json"}, want: []string{""}, wantCode: 2},
		{name: "no file argument", args: nil, want: []string{""}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr: %s)", code, tt.wantCode, stderr.String())
			}
			if diff := cmp.Diff(tt.want, problemPrefixes(stdout.String())); diff != "" {
				t.Errorf("output (-want +got):\n%s\nfull output:\n%s", diff, stdout.String())
			}
			if code == 2 && stderr.Len() == 0 {
				t.Error("exit code 2 without a message on stderr")
			}
		})
	}
}
