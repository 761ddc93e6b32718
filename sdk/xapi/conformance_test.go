package xapi

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// conformanceFixture is one file of testdata/conformance: a statement from
// the examples of the xAPI specification or from a category of the LRS
// conformance suite, the versions it applies to and, for invalid ones, the
// problems Check must report.
type conformanceFixture struct {
	Description string          `json:"description"`
	Source      string          `json:"source"`
	Versions    []Version       `json:"versions"`
	Statement   json.RawMessage `json:"statement"`
	Want        []struct {
		Path string `json:"path"`
		Rule Rule   `json:"rule"`
	} `json:"want"`
}

func loadConformanceFixtures(t *testing.T, dir string) map[string]conformanceFixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "conformance", dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no fixtures in testdata/conformance/%s", dir)
	}
	out := make(map[string]conformanceFixture, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx conformanceFixture
		if err := json.Unmarshal(data, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if fx.Description == "" || fx.Source == "" || len(fx.Versions) == 0 || len(fx.Statement) == 0 {
			t.Fatalf("%s: description, source, versions and statement are required", f)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = fx
	}
	return out
}

// sortProblems orders problems by path, then rule, so that fixtures need not
// know the order in which the decoder and Validate report them.
var sortProblems = cmpopts.SortSlices(func(a, b Problem) bool {
	return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(string(a.Rule), string(b.Rule))) < 0
})

func TestConformanceValid(t *testing.T) {
	t.Parallel()
	for name, fx := range loadConformanceFixtures(t, "valid") {
		for _, v := range fx.Versions {
			t.Run(name+"/"+string(v), func(t *testing.T) {
				t.Parallel()
				st, probs := Check(fx.Statement, v)
				if len(probs) != 0 {
					t.Fatalf("Check(%s) rejected a valid statement (%s):\n%v", name, fx.Description, probs)
				}
				// The canonical encoding of a valid statement is valid too.
				out, err := Marshal(st, v)
				if err != nil {
					t.Fatalf("Marshal() error = %v", err)
				}
				if _, probs := Check(out, v); len(probs) != 0 {
					t.Errorf("Check(Marshal(%s)) rejected the re-encoded statement:\n%v\n%s", name, probs, out)
				}
			})
		}
	}
}

func TestConformanceInvalid(t *testing.T) {
	t.Parallel()
	for name, fx := range loadConformanceFixtures(t, "invalid") {
		if len(fx.Want) == 0 {
			t.Errorf("%s: an invalid fixture needs its expected problems", name)
			continue
		}
		want := make(Problems, len(fx.Want))
		for i, w := range fx.Want {
			want[i] = Problem{Path: w.Path, Rule: w.Rule}
		}
		for _, v := range fx.Versions {
			t.Run(name+"/"+string(v), func(t *testing.T) {
				t.Parallel()
				_, got := Check(fx.Statement, v)
				if diff := gocmp.Diff(want, got, cmpopts.IgnoreFields(Problem{}, "Message"), sortProblems); diff != "" {
					t.Errorf("Check(%s) problems mismatch (%s) (-want +got):\n%s", name, fx.Description, diff)
				}
			})
		}
	}
}

// TestConformanceCoverage keeps the fixtures honest: every rule Validate
// can report is exercised by at least one invalid fixture, and each fixture
// version is one lrsbridge supports.
func TestConformanceCoverage(t *testing.T) {
	t.Parallel()
	seen := map[Rule]bool{}
	for _, dir := range []string{"valid", "invalid"} {
		for name, fx := range loadConformanceFixtures(t, dir) {
			for _, v := range fx.Versions {
				if _, err := ParseVersion(string(v)); err != nil {
					t.Errorf("%s/%s: %v", dir, name, err)
				}
			}
			for _, w := range fx.Want {
				seen[w.Rule] = true
			}
		}
	}
	rules := []Rule{
		RuleJSONType, RuleUnknownKey, RuleDuplicateKey, RuleNull,
		RuleRequired, RuleUUID, RuleIRI, RuleIRL, RuleLanguageTag, RuleMailto, RuleSHA1Sum, RuleSHA2,
		RuleTimestamp, RuleDuration, RuleIFI, RuleObjectType, RuleGroupMember, RuleVoiding,
		RuleInteractionType, RuleInteractionComponents, RuleComponentID, RuleScoreScaled, RuleScoreRaw,
		RuleScoreMinMax, RuleContextActivityOnly, RuleContextTeam, RuleSubStatement, RuleVersion,
		RuleNotInVersion, RuleRelevantTypes, RuleAttachment, RuleAuthority,
	}
	var missing []Rule
	for _, r := range rules {
		if !seen[r] {
			missing = append(missing, r)
		}
	}
	if diff := gocmp.Diff([]Rule(nil), missing); diff != "" {
		t.Errorf("rules without an invalid fixture (-want +got):\n%s", diff)
	}
}
