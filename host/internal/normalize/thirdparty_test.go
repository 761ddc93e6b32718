package normalize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/learningflow/lrsbridge/internal/llvalidate"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// TestGoldenStatementsPassLearningLocker sends every statement of the
// golden files, in the form the host sends an xAPI 1.0.3 LRS, through
// Learning Locker's validator: what the normalizer makes must pass a real
// LRS's checks, not only this project's.
func TestGoldenStatementsPassLearningLocker(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	var sts []llvalidate.Statement
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var results []struct {
			Event      string            `json:"event"`
			Statements []json.RawMessage `json:"statements"`
		}
		if err := json.Unmarshal(data, &results); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, r := range results {
			for i, raw := range r.Statements {
				st, err := xapi.Parse(raw)
				if err != nil {
					t.Fatalf("%s %s #%d: %v", f, r.Event, i, err)
				}
				b, err := xapi.Marshal(st, xapi.V103)
				if err != nil {
					t.Fatalf("%s %s #%d: %v", f, r.Event, i, err)
				}
				sts = append(sts, llvalidate.Statement{Name: fmt.Sprintf("%s result %d (%s) statement %d", f, k, r.Event, i), Statement: b})
			}
		}
	}
	if len(sts) < 50 {
		t.Fatalf("only %d statements in the golden files", len(sts))
	}
	for name, problems := range llvalidate.Check(t, sts) {
		if len(problems) > 0 {
			t.Errorf("%s: Learning Locker's validator refuses it: %q", name, problems)
		}
	}
}
