package jsstore

import (
	"strings"
	"testing"
)

// FuzzNames checks that escaping is injective and reversible, that
// subjects decode back to their key, and that consumer names are valid
// and differ for different keys.
func FuzzNames(f *testing.F) {
	for _, s := range [][2]string{{"acme", "lrs"}, {"Acme.Corp", "lrs 1"}, {"é*>", "_2e"}, {"a__b", "c"}, {strings.Repeat("x", 300), "y"}} {
		f.Add(s[0], s[1])
	}
	n := names{stream: "LRSBRIDGE", prefix: "lrs"}
	f.Fuzz(func(t *testing.T, org, sink string) {
		e := escape(org)
		if strings.ContainsAny(e, ".*> \t\r\n") || strings.Contains(e, "__") || strings.HasSuffix(e, "_") {
			t.Fatalf("escape(%q) = %q: not a safe token", org, e)
		}
		back, err := unescape(e)
		if err != nil || back != org {
			t.Fatalf("unescape(escape(%q)) = %q, %v", org, back, err)
		}
		subj, err := n.queueSubject(org, sink)
		if org == "" || sink == "" {
			if err == nil {
				t.Fatalf("queueSubject(%q, %q) accepted an empty name", org, sink)
			}
			return
		}
		if err != nil {
			if len(escape(org)) <= maxTokenLen && len(escape(sink)) <= maxTokenLen {
				t.Fatalf("queueSubject(%q, %q): %v", org, sink, err)
			}
			return
		}
		o, s, err := n.parseSubject("lrs", subj)
		if err != nil || o != org || s != sink {
			t.Fatalf("parseSubject(%q) = %q, %q, %v; want %q, %q", subj, o, s, err, org, sink)
		}
		c := consumerName(org, sink)
		if len(c) > maxConsumerLen || strings.ContainsAny(c, ".*> \t\r\n/\\") {
			t.Fatalf("consumerName(%q, %q) = %q: not a valid name", org, sink, c)
		}
		if org != sink && c == consumerName(sink, org) {
			t.Fatalf("consumerName collides for (%q, %q) and its swap", org, sink)
		}
	})
}

func TestUnescapeRejects(t *testing.T) {
	for _, s := range []string{"A", "_", "_4", "_zz", "_4A", "a.b"} {
		if _, err := unescape(s); err == nil {
			t.Errorf("unescape(%q) accepted a string escape never makes", s)
		}
	}
}
