// Package llvalidate runs statements through a third-party xAPI validator,
// Learning Locker's (@learninglocker/xapi-validation, the one its LRS
// checks statements with), for lrsbridge's tests: what lrsbridge produces
// must pass a real LRS's checks, and where lrsbridge's own validator and
// Learning Locker's disagree, the tests say why.
//
// It needs node and the npm dependencies of this directory (npm ci here;
// .ci/run does it). Without them Check skips the test, unless CI is set.
package llvalidate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/internal/nodetest"
)

// Statement is one statement to check, named for the messages.
type Statement struct {
	Name      string          `json:"name"`
	Statement json.RawMessage `json:"statement"`
}

// Check returns, by name, the problems Learning Locker's validator finds
// in each statement (none: valid).
func Check(t testing.TB, sts []Statement) map[string][]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	node := nodetest.Node(t, dir, "@learninglocker/xapi-validation")
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, st := range sts {
		if err := enc.Encode(st); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "validate.js"))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the validator failed: %v\n%s", err, stderr.Bytes())
	}
	got := make(map[string][]string, len(sts))
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var r struct {
			Name     string   `json:"name"`
			Problems []string `json:"problems"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("validator output %q: %v", sc.Text(), err)
		}
		got[r.Name] = r.Problems
	}
	if len(got) != len(sts) {
		t.Fatalf("the validator answered for %d statements of %d", len(got), len(sts))
	}
	return got
}
