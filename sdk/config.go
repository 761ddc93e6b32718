package sdk

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ByteSize is a size in bytes in a sink configuration. [DecodeConfig] reads
// it from a whole number of bytes or from text with a unit: "512", "64KB",
// "1.5MiB", "2 GB" (KB, MB, GB are powers of 1000; KiB, MiB, GiB of 1024; B
// or no unit means bytes).
type ByteSize int64

// ParseByteSize parses text such as "64KiB" or "1.5MB" into a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !(unicode.IsDigit(r) || r == '.') })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		"k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
	}[strings.ToLower(unit)]
	f, err := strconv.ParseFloat(num, 64)
	if mult == 0 || err != nil || num == "" || f < 0 {
		return 0, fmt.Errorf("%q is not a size such as 512KiB or 1MB", s)
	}
	v := f * mult
	if v != math.Trunc(v) || v > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return ByteSize(v), nil
}

// DecodeConfig decodes the opaque configuration map of a
// [ConfigureRequest] into the struct dst points to, so that a sink does not
// hand-write coercion rules. Each exported field with a `config:"key"` tag
// takes the value of key; fields without the tag (or with "-") are left
// alone. A key that is absent or null leaves the field as it was, so fill
// dst with the defaults first, or give a field a `default:"..."` tag (text,
// read by the same rules) that applies when the key is absent.
//
// Accepted values, by field type:
//   - string: text.
//   - bool: true or false, or the text "true", "false", "yes", "no", "on",
//     "off", "1" or "0" (any case).
//   - integers: whole numbers, or text holding one.
//   - float64: numbers, or text holding one.
//   - time.Duration: text such as "30s" or "1m30s", or a number of seconds.
//   - [ByteSize]: whole numbers of bytes, or text such as "1MiB".
//   - []string: a list of text values, or one text with the values
//     separated by spaces or commas.
//   - a type implementing encoding.TextUnmarshaler: text, given to
//     UnmarshalText (its error message is shown to the admin, so it must
//     complete a sentence about the field and never repeat a secret).
//   - any, []any and map[string]any: the value as it is, for the sink to
//     read itself.
//
// Every problem is reported, together, as a *[ConfigError] with one
// [FieldError] per key: keys of the map that no field takes first (sorted,
// "is not a setting of this sink"), then bad values in field order. The
// messages never repeat the values, which may be secrets. DecodeConfig
// panics if dst is not a non-nil pointer to a struct: that is a programming
// error.
func DecodeConfig(m map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic("sdk: DecodeConfig needs a non-nil pointer to a struct")
	}
	sv := rv.Elem()
	st := sv.Type()
	known := map[string]bool{}
	var errs ConfigError
	type todo struct {
		key string
		f   reflect.Value
		v   any
		def bool
	}
	var work []todo
	for i := range st.NumField() {
		sf := st.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("config"), ",")
		if key == "" || key == "-" || !sf.IsExported() {
			continue
		}
		known[key] = true
		v, ok := m[key]
		if ok && v != nil {
			work = append(work, todo{key: key, f: sv.Field(i), v: v})
			continue
		}
		if def, ok := sf.Tag.Lookup("default"); ok {
			work = append(work, todo{key: key, f: sv.Field(i), v: def, def: true})
		}
	}
	unknown := make([]string, 0)
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs.Add(k, "is not a setting of this sink")
	}
	for _, w := range work {
		if msg := setField(w.f, w.v); msg != "" {
			if w.def {
				panic(fmt.Sprintf("sdk: DecodeConfig: bad default of %q: %s", w.key, msg))
			}
			errs.Add(w.key, msg)
		}
	}
	return errs.Err()
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	byteSizeType    = reflect.TypeFor[ByteSize]()
	unmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// setField stores v in f and returns "" or what is wrong, in words that
// complete a sentence about the field.
func setField(f reflect.Value, v any) string {
	t := f.Type()
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		s, ok := v.(string)
		if !ok {
			return "must be text"
		}
		if err := f.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return err.Error()
		}
		return ""
	}
	switch t {
	case durationType:
		d, msg := toDuration(v)
		if msg == "" {
			f.SetInt(int64(d))
		}
		return msg
	case byteSizeType:
		n, msg := toByteSize(v)
		if msg == "" {
			f.SetInt(int64(n))
		}
		return msg
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return "must be text"
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := toBool(v)
		if !ok {
			return "must be true or false"
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := toInt(v)
		if !ok || f.OverflowInt(n) {
			return "must be a whole number"
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := toInt(v)
		if !ok || n < 0 || f.OverflowUint(uint64(n)) {
			return "must be a whole number, zero or more"
		}
		f.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		x, ok := toFloat(v)
		if !ok {
			return "must be a number"
		}
		f.SetFloat(x)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			list, ok := toStrings(v)
			if !ok {
				return "must be a list of text values"
			}
			out := reflect.MakeSlice(t, len(list), len(list))
			for i, s := range list {
				out.Index(i).SetString(s)
			}
			f.Set(out)
			return ""
		}
		if t.Elem().Kind() == reflect.Interface {
			list, ok := v.([]any)
			if !ok {
				return "must be a list"
			}
			f.Set(reflect.ValueOf(list))
			return ""
		}
		panic("sdk: DecodeConfig: unsupported field type " + t.String())
	case reflect.Map:
		mv, ok := v.(map[string]any)
		if !ok || t != reflect.TypeFor[map[string]any]() {
			return "must be an object"
		}
		f.Set(reflect.ValueOf(mv))
	case reflect.Interface:
		f.Set(reflect.ValueOf(v))
	default:
		panic("sdk: DecodeConfig: unsupported field type " + t.String())
	}
	return ""
}

func toBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "yes", "on", "1":
			return true, true
		case "false", "no", "off", "0":
			return false, true
		}
	}
	return false, false
}

// toInt accepts whole numbers of the JSON, Go and YAML decoders, and text.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

const durationMsg = "must be a duration such as 30s or 2m, or a number of seconds"

func toDuration(v any) (time.Duration, string) {
	if s, ok := v.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return 0, durationMsg
		}
		return d, ""
	}
	secs, ok := toFloat(v)
	if !ok || math.Abs(secs) > float64(math.MaxInt64/int64(time.Second)) {
		return 0, durationMsg
	}
	return time.Duration(secs * float64(time.Second)), ""
}

const byteSizeMsg = "must be a size such as 512KiB or 1MB, or a whole number of bytes"

func toByteSize(v any) (ByteSize, string) {
	if s, ok := v.(string); ok {
		n, err := ParseByteSize(s)
		if err != nil {
			return 0, byteSizeMsg
		}
		return n, ""
	}
	n, ok := toInt(v)
	if !ok {
		return 0, byteSizeMsg
	}
	return ByteSize(n), ""
}

func toStrings(v any) ([]string, bool) {
	switch l := v.(type) {
	case string:
		return strings.FieldsFunc(l, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }), true
	case []string:
		return slices.Clone(l), true
	case []any:
		out := make([]string, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}
