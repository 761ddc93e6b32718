package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// fields reads the members of one JSON object of a payload and reports
// problems against their paths. A member that is null counts as absent.
type fields struct {
	j    *job
	path string
	m    map[string]json.RawMessage
}

// object decodes raw, found at path, as a JSON object.
func (j *job) object(raw json.RawMessage, path string) (fields, error) {
	f := fields{j: j, path: path}
	if k := jsonKind(raw); k != '{' {
		return f, j.fail(path, "want a JSON object, got %s", kindName(k))
	}
	if err := json.Unmarshal(raw, &f.m); err != nil {
		return f, j.fail(path, "not well-formed JSON")
	}
	return f, nil
}

// at returns the path of member key.
func (f fields) at(key string) string { return f.path + "." + key }

// get returns member key, or nil when it is absent or null.
func (f fields) get(key string) json.RawMessage {
	v := f.m[key]
	if jsonKind(v) == 'n' {
		return nil
	}
	return v
}

// str returns the string member key; required makes an absent or empty one
// an error.
func (f fields) str(key string, required bool) (string, error) {
	v := f.get(key)
	if v == nil {
		if required {
			return "", f.j.fail(f.at(key), "required")
		}
		return "", nil
	}
	if k := jsonKind(v); k != '"' {
		return "", f.j.fail(f.at(key), "want a string, got %s", kindName(k))
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", f.j.fail(f.at(key), "not well-formed JSON")
	}
	if required && s == "" {
		return "", f.j.fail(f.at(key), "required")
	}
	return s, nil
}

// id returns the required string member key, which seeds an IRI or an id
// and may not contain NUL.
func (f fields) id(key string) (string, error) {
	s, err := f.str(key, true)
	if err == nil {
		if err = checkName(s); err != nil {
			err = f.j.failErr(f.at(key), err)
		}
	}
	return s, err
}

// num returns the number member key and whether it is present. Strings are
// not numbers here.
func (f fields) num(key string, required bool) (float64, bool, error) {
	v := f.get(key)
	if v == nil {
		if required {
			return 0, false, f.j.fail(f.at(key), "required")
		}
		return 0, false, nil
	}
	if k := jsonKind(v); k != '0' {
		return 0, false, f.j.fail(f.at(key), "want a number, got %s", kindName(k))
	}
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(x, 0) {
		return 0, false, f.j.fail(f.at(key), "number %s out of range", clip(string(v)))
	}
	return x, true, nil
}

// boolean returns the boolean member key, or nil when it is absent.
func (f fields) boolean(key string) (*bool, error) {
	v := f.get(key)
	if v == nil {
		return nil, nil
	}
	switch string(v) {
	case "true":
		return ptr(true), nil
	case "false":
		return ptr(false), nil
	}
	return nil, f.j.fail(f.at(key), "want true or false, got %s", kindName(jsonKind(v)))
}

// array returns the elements of the array member key, nil when absent.
func (f fields) array(key string) ([]json.RawMessage, error) {
	v := f.get(key)
	if v == nil {
		return nil, nil
	}
	if k := jsonKind(v); k != '[' {
		return nil, f.j.fail(f.at(key), "want an array, got %s", kindName(k))
	}
	var a []json.RawMessage
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, f.j.fail(f.at(key), "not well-formed JSON")
	}
	return a, nil
}

// timestamp returns the timestamp member key (RFC 3339 with a zone, not in
// the future) in UTC, and whether it is present.
func (f fields) timestamp(key string) (time.Time, bool, error) {
	s, err := f.str(key, false)
	if err != nil || s == "" {
		return time.Time{}, false, err
	}
	t, err := xapi.ParseTimestamp(s)
	if err != nil {
		return time.Time{}, false, f.j.failErr(f.at(key), err)
	}
	if t.After(f.j.now.Add(futureSkew)) {
		return time.Time{}, false, f.j.fail(f.at(key), "%s lies in the future", xapi.FormatTimestamp(t))
	}
	return t, true, nil
}

// jsonKind returns the kind of the JSON value v by its first byte: '{',
// '[', '"', '0' (a number), 'b' (a boolean), 'n' (null), or 0 when v is
// empty or not JSON.
func jsonKind(v []byte) byte {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return 0
	}
	switch c := v[0]; {
	case c == '{' || c == '[' || c == '"':
		return c
	case c == '-' || '0' <= c && c <= '9':
		return '0'
	case c == 't' || c == 'f':
		return 'b'
	case c == 'n':
		return 'n'
	}
	return 0
}

func kindName(k byte) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 'b':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "nothing"
}

// errEmpty reports a value that is present but holds nothing to record.
var errEmpty = errors.New("nothing to record")
