package panel

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

// fill sets form fields as typing would, firing input events.
func fill(fields map[string]string) string {
	data, _ := json.Marshal(fields)
	return `(() => { for (const [id, v] of Object.entries(` + string(data) + `)) {
    const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("input", {bubbles: true})); }
  return true; })()`
}

func click(id string) string {
	return `document.getElementById(` + strconv.Quote(id) + `).click(), true`
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("timed out: %v", err)
		}
		t.Fatal(err)
	}
}
