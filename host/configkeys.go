package host

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Known configuration keys are derived from the koanf tags of Config, so
// that a new field is a new key with nothing else to change. A map with
// string keys (orgs, plugins.sha256) takes any name at its level; a plugin's
// opaque config (map[string]any) takes anything below it; a list of structs
// (orgs.<id>.sinks) is checked element by element.

// checkKeys returns a problem for every key of raw (a layer of the
// configuration as nested maps) that Config does not have, and for every
// value of an enum that is not one of its values. where says
// where the layer comes from; vars, when not nil, maps keys to the
// environment variables that set them.
func checkKeys(raw map[string]any, where string, vars map[string]string) []ConfigProblem {
	var out []ConfigProblem
	walkKeys(raw, reflect.TypeFor[Config](), "", func(key string, err error) {
		out = append(out, ConfigProblem{Key: key, Message: err.Error()})
	}, func(key string, siblings []string) {
		msg := "unknown key " + where
		if v := varOf(vars, key); v != "" {
			msg = "unknown key set by " + v
		}
		last := key[strings.LastIndexAny(key, ".]")+1:]
		if s := closest(last, siblings); s != "" {
			msg += "; did you mean " + strings.TrimSuffix(key, last) + s + "?"
		} else if len(siblings) > 0 {
			msg += "; known keys here: " + strings.Join(siblings, ", ")
		}
		out = append(out, ConfigProblem{Key: key, Message: msg})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// varOf returns the environment variable that set key or a key below it.
func varOf(vars map[string]string, key string) string {
	var names []string
	for k, name := range vars {
		if k == key || strings.HasPrefix(k, key+".") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

var durationType = reflect.TypeFor[time.Duration]()

// isListKey reports whether key (a dotted key, as an LRSBRIDGE_ variable
// names it) is a list of plain values in Config, such as
// plugins.allow_runtime or plugins.config_only_settings.<plugin>: a slice
// whose elements are not structs. A map level takes any name; below a
// plugin's opaque config nothing is a list.
func isListKey(key string) bool {
	t := reflect.TypeFor[Config]()
	for _, part := range strings.Split(key, ".") {
		switch {
		case t.Kind() == reflect.Struct && t != durationType:
			ft, ok := structKeys(t)[part]
			if !ok {
				return false
			}
			t = ft
		case t.Kind() == reflect.Map && t.Elem().Kind() != reflect.Interface:
			t = t.Elem()
		default:
			return false
		}
	}
	return t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Struct
}

// splitList splits the value of an LRSBRIDGE_ variable that sets a list:
// elements are separated by commas, with the spaces around them trimmed,
// and a value of only spaces is the empty list. A comma inside an element
// is written \, and a backslash before a comma or another backslash as
// \\ (NO_PROXY=a\,b for one element of plugins.env); any other backslash
// is itself. An empty element is an error saying which.
func splitList(value string) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return []string{}, nil
	}
	var list []string
	var cur strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '\\' && i+1 < len(value) && (value[i+1] == ',' || value[i+1] == '\\'):
			i++
			cur.WriteByte(value[i])
		case c == ',':
			list = append(list, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	list = append(list, cur.String())
	for i, v := range list {
		list[i] = strings.TrimSpace(v)
		if list[i] == "" {
			return nil, fmt.Errorf("element %d of %d of the comma-separated list is empty; separate the elements with single commas, with none at either end (an empty value sets an empty list; write a comma inside an element as \\,)", i+1, len(list))
		}
	}
	return list, nil
}

// walkKeys calls bad for every key under prefix in v that type t does not
// have, with the keys t has at that level, and invalid for every string
// value that the UnmarshalText of its type (an enum) refuses.
func walkKeys(v any, t reflect.Type, prefix string, invalid func(key string, err error), bad func(key string, siblings []string)) {
	if u, ok := reflect.New(t).Interface().(encoding.TextUnmarshaler); ok {
		if s, ok := v.(string); ok {
			if err := u.UnmarshalText([]byte(s)); err != nil {
				invalid(prefix, err)
			}
		}
		return
	}
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		m, ok := v.(map[string]any)
		if !ok {
			return // a wrong type is the decoder's error
		}
		fields := structKeys(t)
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		sort.Strings(names)
		for k, sub := range m {
			ft, ok := fields[k]
			if !ok {
				bad(join(prefix, k), names)
				continue
			}
			walkKeys(sub, ft, join(prefix, k), invalid, bad)
		}
	case t.Kind() == reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Elem().Kind() == reflect.Interface {
			return // opaque below this point
		}
		for k, sub := range m {
			walkKeys(sub, t.Elem(), join(prefix, k), invalid, bad)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		list, ok := v.([]any)
		if !ok {
			return
		}
		for i, sub := range list {
			walkKeys(sub, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i), invalid, bad)
		}
	}
}

// structKeys returns the koanf keys of a struct's fields with their types,
// squashed embedded structs included.
func structKeys(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if opts == "squash" {
			for k, ft := range structKeys(f.Type) {
				out[k] = ft
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// closest returns the name of names nearest to s in edit distance, or ""
// when none is near enough to be a likely typo.
func closest(s string, names []string) string {
	best, bestD := "", len(s)/2+2
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment) of a and b: a swap of two neighbours counts as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
