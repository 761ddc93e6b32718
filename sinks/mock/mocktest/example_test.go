package mocktest_test

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/learningflow/lrsbridge/sinks/mock/mocktest"
)

// Diff compares a recording with the expected statements; AssertStatements
// does the same inside a test and reports the diff through t.Errorf.
func ExampleDiff() {
	dir, err := os.MkdirTemp("", "mocktest-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	rec := filepath.Join(dir, "rec.ndjson")
	// What a mock plugin instance with record_file set to rec wrote.
	recorded := `{"id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee","verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"timestamp":"2026-05-01T10:00:00.000Z"}` + "\n"
	if err := os.WriteFile(rec, []byte(recorded), 0o644); err != nil {
		log.Fatal(err)
	}

	got, err := mocktest.Read(rec)
	if err != nil {
		log.Fatal(err)
	}
	want := []string{`{"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"}}`}
	diff, err := mocktest.Diff(got, want, mocktest.IgnoreIDs(), mocktest.IgnoreTimestamps())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d recorded, match: %v\n", len(got), diff == "")

	diff, _ = mocktest.Diff(got, []json.RawMessage{json.RawMessage(want[0])})
	fmt.Println("match without ignoring ids and timestamps:", diff == "")
	// Output:
	// 1 recorded, match: true
	// match without ignoring ids and timestamps: false
}
