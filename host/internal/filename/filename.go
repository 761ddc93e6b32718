// Package filename turns the keys of the host's stores (organization and
// integration ids, which may be any string) into file names that are safe
// on every file system.
package filename

import "strings"

// Escape returns a file name for s. The mapping is injective: lower-case
// ASCII letters, digits and '-' are kept, and every other byte (upper-case
// letters too, for case-insensitive file systems) becomes '_' and two
// lower-case hex digits. The result has no path separator and no '.', so
// it cannot leave its directory, and names joined with '.' stay
// injective. It is the escaping of the queue store's directory names.
func Escape(s string) string {
	const hexd = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}
