// Package baseline is what lrsbridge's xAPI codec is measured against in
// benchmarks: structs mirroring the statement model, decoded and encoded by
// encoding/json-compatible libraries, and the statements both are given.
package baseline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The baselines decode into tagged structs that mirror the statement model,
// the usual way a Go program reads statements. They check neither unknown
// keys (case-insensitively only, in encoding/json) nor any xAPI rule, so
// they are a floor for what strict decoding and validation cost.
type (
	// Statement mirrors xapi.Statement.
	Statement struct {
		ID          string           `json:"id,omitempty"`
		Actor       *Actor           `json:"actor,omitempty"`
		Verb        *Verb            `json:"verb,omitempty"`
		Object      map[string]any   `json:"object,omitempty"`
		Result      *Result          `json:"result,omitempty"`
		Context     *Context         `json:"context,omitempty"`
		Timestamp   string           `json:"timestamp,omitempty"`
		Stored      string           `json:"stored,omitempty"`
		Authority   *Actor           `json:"authority,omitempty"`
		Version     string           `json:"version,omitempty"`
		Attachments []map[string]any `json:"attachments,omitempty"`
	}
	// Actor mirrors xapi.Actor (agents and groups).
	Actor struct {
		ObjectType  string   `json:"objectType,omitempty"`
		Name        string   `json:"name,omitempty"`
		Mbox        string   `json:"mbox,omitempty"`
		MboxSHA1Sum string   `json:"mbox_sha1sum,omitempty"`
		OpenID      string   `json:"openid,omitempty"`
		Account     *Account `json:"account,omitempty"`
		Member      []Actor  `json:"member,omitempty"`
	}
	// Account mirrors xapi.Account.
	Account struct {
		HomePage string `json:"homePage"`
		Name     string `json:"name"`
	}
	// Verb mirrors xapi.Verb.
	Verb struct {
		ID      string            `json:"id"`
		Display map[string]string `json:"display,omitempty"`
	}
	// Result mirrors xapi.Result.
	Result struct {
		Score      map[string]float64         `json:"score,omitempty"`
		Success    *bool                      `json:"success,omitempty"`
		Completion *bool                      `json:"completion,omitempty"`
		Response   *string                    `json:"response,omitempty"`
		Duration   string                     `json:"duration,omitempty"`
		Extensions map[string]json.RawMessage `json:"extensions,omitempty"`
	}
	// Context mirrors xapi.Context.
	Context struct {
		Registration      string                      `json:"registration,omitempty"`
		Instructor        *Actor                      `json:"instructor,omitempty"`
		Team              *Actor                      `json:"team,omitempty"`
		ContextActivities map[string][]map[string]any `json:"contextActivities,omitempty"`
		ContextAgents     []map[string]any            `json:"contextAgents,omitempty"`
		ContextGroups     []map[string]any            `json:"contextGroups,omitempty"`
		Revision          string                      `json:"revision,omitempty"`
		Platform          string                      `json:"platform,omitempty"`
		Language          string                      `json:"language,omitempty"`
		Statement         map[string]any              `json:"statement,omitempty"`
		Extensions        map[string]json.RawMessage  `json:"extensions,omitempty"`
	}
)

// EncodingJSON decodes in into a Statement and encodes it again with
// encoding/json, appending the encoding to out: the baseline round trip.
func EncodingJSON(in, out []byte) ([]byte, error) {
	var st Statement
	if err := json.Unmarshal(in, &st); err != nil {
		return out, err
	}
	data, err := json.Marshal(&st)
	return append(out, data...), err
}

// Inputs returns n compact statements cycling through the JSON files in
// dir (the codec's round-trip fixtures).
func Inputs(dir string, n int) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var base [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		base = append(base, compact.Bytes())
	}
	if len(base) == 0 {
		return nil, fmt.Errorf("no statements in %s", dir)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = base[i%len(base)]
	}
	return out, nil
}
