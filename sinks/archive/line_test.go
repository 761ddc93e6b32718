package archive

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzLineID checks that lineID accepts only JSON objects and reads the id
// the way encoding/json does.
func FuzzLineID(f *testing.F) {
	for _, s := range []string{
		`{"id":"6690e6c9-3ef0-4ed3-8b37-7f3964730bee","verb":{}}`,
		`{"id":"a\"b"}`, `{"id":"x"`, `{"verb":{},"id":"y"}`, `[]`, `{"id":1}`, `{"id":"x"}garbage`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		id, ok := lineID(line)
		if !ok || idKeys(line) > 1 {
			// With several id members the fast path reads the first and
			// encoding/json the last; canonical statements have one.
			return
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("lineID accepted %q, which does not decode: %v", line, err)
		}
		if v.ID != id {
			t.Fatalf("lineID(%q) = %q, encoding/json reads %q", line, id, v.ID)
		}
	})
}

// idKeys counts the top-level members of a JSON object whose key
// encoding/json would decode into a field named id.
func idKeys(line []byte) int {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return 0
	}
	n := 0
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return n
		}
		if s, ok := k.(string); ok && strings.EqualFold(s, "id") {
			n++
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return n
		}
	}
	return n
}
