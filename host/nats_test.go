package host

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
)

// TestConfigNamesNoInternalType walks Config: an embedder must be able to
// name the type of every field, so none may come from an internal
// package.
func TestConfigNamesNoInternalType(t *testing.T) {
	t.Parallel()
	var bad []string
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if strings.Contains(typ.PkgPath(), "/internal/") {
			bad = append(bad, path+": "+typ.String())
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.IsExported() {
				walk(path+"."+f.Name, f.Type)
			}
		}
	}
	walk("Config", reflect.TypeOf(Config{}))
	if len(bad) > 0 {
		t.Errorf("fields of internal types, which embedders cannot name:\n%s", strings.Join(bad, "\n"))
	}
}

// TestNATSConfigMatchesStore checks that NATSConfig has every setting of
// the jetstream store, under the same koanf key, that its defaults are the
// store's, and that the conversion carries every field.
func TestNATSConfigMatchesStore(t *testing.T) {
	t.Parallel()
	keys := func(typ reflect.Type) map[string]string {
		out := map[string]string{}
		var add func(prefix string, typ reflect.Type)
		add = func(prefix string, typ reflect.Type) {
			for i := range typ.NumField() {
				f := typ.Field(i)
				if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
					add(prefix+f.Tag.Get("koanf")+".", f.Type)
					continue
				}
				out[prefix+f.Tag.Get("koanf")] = f.Name + " " + f.Type.String()
			}
		}
		add("", typ)
		return out
	}
	if diff := cmp.Diff(keys(reflect.TypeOf(jsstore.Config{})), keys(reflect.TypeOf(NATSConfig{}))); diff != "" {
		t.Errorf("queue.nats keys (-store +public):\n%s", diff)
	}
	if diff := cmp.Diff(jsstore.DefaultConfig(), DefaultConfig().Queue.NATS.internal()); diff != "" {
		t.Errorf("defaults (-store +public):\n%s", diff)
	}
	// Every field set to a value of its own, so that a field the
	// conversion drops shows up.
	create := false
	set := NATSConfig{
		URL: "nats://127.0.0.1:4222", CredsFile: "a.creds",
		TLS:    NATSTLSConfig{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"},
		Stream: "S", SubjectPrefix: "p", Replicas: 5, Create: &create,
		DuplicateWindow: 1, PublishTimeout: 2, PinnedTTL: 3, AckWait: 4,
		MaxAckPending: 5, MaxConsumers: 6, MaxQueueMessages: 7, MaxOrgMessages: 8, MaxTotalBytes: 9,
		GroupCommit: true, GroupWindow: 10, Instance: "i", ConnectTimeout: 11,
	}
	v := reflect.ValueOf(set)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("the test leaves NATSConfig.%s unset", v.Type().Field(i).Name)
		}
	}
	want := jsstore.Config{
		URL: "nats://127.0.0.1:4222", CredsFile: "a.creds",
		TLS:    jsstore.TLSConfig{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"},
		Stream: "S", SubjectPrefix: "p", Replicas: 5, Create: &create,
		DuplicateWindow: 1, PublishTimeout: 2, PinnedTTL: 3, AckWait: 4,
		MaxAckPending: 5, MaxConsumers: 6, MaxQueueMessages: 7, MaxOrgMessages: 8, MaxTotalBytes: 9,
		GroupCommit: true, GroupWindow: 10, Instance: "i", ConnectTimeout: 11,
	}
	if diff := cmp.Diff(want, set.internal()); diff != "" {
		t.Errorf("converted (-want +got):\n%s", diff)
	}
}
