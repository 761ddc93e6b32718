package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOrgDirName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	tests := []struct {
		name, org, want string
	}{
		{"plain", "acme-1", "acme-1"},
		{"upper case", "Acme", "_41cme"},
		{"dot dot", "..", "_2e_2e"},
		{"separator", "../etc/passwd", "_2e_2e_2fetc_2fpasswd"},
		{"underscore", "a_b", "a_5fb"},
		{"non-ascii", "é", "_c3_a9"},
		{"long", long, long[:55] + "~" + hexSHA256(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, orgDirName(tt.org)); diff != "" {
				t.Errorf("orgDirName(%q) (-want +got):\n%s", tt.org, diff)
			}
		})
	}
}

// FuzzOrgDirName checks that directory names are safe and that distinct
// orgs get distinct names.
func FuzzOrgDirName(f *testing.F) {
	for _, s := range []string{"acme", "Acme", "..", "a/b", "a_2fb", strings.Repeat("y", 130)} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		na, nb := orgDirName(a), orgDirName(b)
		for _, n := range []string{na, nb} {
			if n != "" && (strings.ContainsAny(n, "/\\.\x00") || len(n) > maxOrgDirLen) {
				t.Fatalf("unsafe directory name %q", n)
			}
		}
		if a != b && na == nb {
			t.Fatalf("orgs %q and %q share directory %q", a, b, na)
		}
	})
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
