package xapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsUUID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"version 4 lower case", "c7a0eb7e-4f3e-40ac-8be4-7b24db899e80", true},
		{"upper case", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", true},
		{"mixed case", "6ba7B810-9Dad-11d1-80b4-00C04fd430c8", true},
		{"nil UUID", "00000000-0000-0000-0000-000000000000", true},
		{"max UUID", "ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"version 7", "017f22e2-79b0-7cc3-98c4-dc0c0c07398f", true},
		{"non-RFC variant", "c7a0eb7e-4f3e-40ac-0be4-7b24db899e80", true},
		{"empty", "", false},
		{"no hyphens", "c7a0eb7e4f3e40ac8be47b24db899e80", false},
		{"braces", "{c7a0eb7e-4f3e-40ac-8be4-7b24db899e80}", false},
		{"urn prefix", "urn:uuid:c7a0eb7e-4f3e-40ac-8be4-7b24db899e80", false},
		{"non-hex digit", "g7a0eb7e-4f3e-40ac-8be4-7b24db899e80", false},
		{"hyphen moved", "c7a0eb7-e4f3e-40ac-8be4-7b24db899e80", false},
		{"one digit short", "c7a0eb7e-4f3e-40ac-8be4-7b24db899e8", false},
		{"one digit long", "c7a0eb7e-4f3e-40ac-8be4-7b24db899e800", false},
		{"trailing space", "c7a0eb7e-4f3e-40ac-8be4-7b24db899e80 ", false},
		{"hyphen for digit", "c7a0eb7e-4f3e-40ac-8be4--b24db899e80", false},
		{"conformance suite bad id", "MyStatementId", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, IsUUID(tt.in)); diff != "" {
				t.Errorf("IsUUID(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestUUIDv5(t *testing.T) {
	t.Parallel()
	const (
		nsDNS  = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
		nsURL  = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
		nsOID  = "6ba7b812-9dad-11d1-80b4-00c04fd430c8"
		nsX500 = "6ba7b814-9dad-11d1-80b4-00c04fd430c8"
	)
	// Expected values are published test vectors: RFC 9562 appendix A.4,
	// and the examples of the uuidv5 function in the Terraform language
	// documentation.
	tests := []struct {
		name      string
		namespace string
		in        string
		want      string
	}{
		{"RFC 9562 A.4", nsDNS, "www.example.com", "2ed6657d-e927-568b-95e1-2665a8aea6a2"},
		{"RFC 9562 A.4 upper-case namespace", strings.ToUpper(nsDNS), "www.example.com", "2ed6657d-e927-568b-95e1-2665a8aea6a2"},
		{"DNS namespace", nsDNS, "www.terraform.io", "a5008fae-b28c-5ba5-96cd-82b4c53552d6"},
		{"URL namespace", nsURL, "https://www.terraform.io/", "9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5"},
		{"OID namespace", nsOID, "1.3.6.1.4", "af9d40a5-7a36-5c07-b23a-851cd99fbfa5"},
		{"X.500 namespace", nsX500, "CN=Example,C=GB", "84e09961-4aa4-57f8-95b7-03edb1073253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := UUIDv5(tt.namespace, tt.in)
			if err != nil {
				t.Fatalf("UUIDv5(%q, %q): %v", tt.namespace, tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("UUIDv5(%q, %q) mismatch (-want +got):\n%s", tt.namespace, tt.in, diff)
			}
			if diff := cmp.Diff(tt.want, MustUUIDv5(tt.namespace, tt.in)); diff != "" {
				t.Errorf("MustUUIDv5(%q, %q) mismatch (-want +got):\n%s", tt.namespace, tt.in, diff)
			}
		})
	}
}

func TestUUIDv5Properties(t *testing.T) {
	t.Parallel()
	a := MustUUIDv5(NamespaceStatement, "tenant-1/event-1")
	b := MustUUIDv5(NamespaceStatement, "tenant-1/event-2")
	if a == b {
		t.Errorf("different names gave the same id %s", a)
	}
	for _, id := range []string{a, b} {
		if !IsUUID(id) || id != strings.ToLower(id) || id[14] != '5' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Errorf("id %s is not a lower-case version 5 RFC 4122 UUID", id)
		}
	}
}

func TestUUIDv5BadNamespace(t *testing.T) {
	t.Parallel()
	for _, ns := range []string{"", "dns", "6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430cz"} {
		t.Run(ns, func(t *testing.T) {
			t.Parallel()
			got, err := UUIDv5(ns, "x")
			if !errors.Is(err, errUUIDSyntax) {
				t.Errorf("UUIDv5(%q) error = %v, want %v", ns, err, errUUIDSyntax)
			}
			if got != "" {
				t.Errorf("UUIDv5(%q) = %q with an error, want \"\"", ns, got)
			}
		})
	}
}

func TestMustUUIDv5Panics(t *testing.T) {
	t.Parallel()
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, errUUIDSyntax) {
			t.Errorf("recovered %v, want an error wrapping %v", r, errUUIDSyntax)
		}
	}()
	MustUUIDv5("not-a-uuid", "x")
}

func TestNamespaceStatement(t *testing.T) {
	t.Parallel()
	if !IsUUID(NamespaceStatement) || NamespaceStatement[14] != '4' {
		t.Errorf("NamespaceStatement %s is not a version 4 UUID", NamespaceStatement)
	}
}

func TestNewUUID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 100 {
		id := NewUUID()
		if !IsUUID(id) || id != strings.ToLower(id) {
			t.Fatalf("NewUUID() = %q, want a lower-case hyphenated UUID", id)
		}
		if id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewUUID() = %q, want version 4 and the RFC 4122 variant", id)
		}
		if seen[id] {
			t.Fatalf("NewUUID() returned %q twice", id)
		}
		seen[id] = true
	}
}
