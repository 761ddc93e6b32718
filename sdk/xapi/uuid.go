package xapi

import (
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
)

// NamespaceStatement is the UUID namespace from which lrsbridge derives
// statement ids with [UUIDv5]: the name is built from the tenant and the
// source event id, so a retried event always gets the same statement id.
//
// The value was drawn once at random (it has the shape of a version 4 UUID)
// and must never change: changing it would give every event a new id and
// defeat deduplication at the LRS.
const NamespaceStatement = "c7a0eb7e-4f3e-40ac-8be4-7b24db899e80"

// errUUIDSyntax is wrapped by UUIDv5 when the namespace is not a UUID.
var errUUIDSyntax = errors.New("not a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")

// IsUUID reports whether s is a UUID in the hyphenated form of RFC 4122
// (8-4-4-4-12 hexadecimal digits, upper or lower case). Any version and
// variant is accepted; braces, "urn:uuid:" prefixes and the unhyphenated
// form are not.
func IsUUID(s string) bool {
	_, ok := uuidParse(s)
	return ok
}

// UUIDv5 returns the name-based UUID (version 5, SHA-1) of name in
// namespace, as defined in RFC 4122 section 4.3, in lower-case hyphenated
// form. The namespace must itself be a UUID string (see [IsUUID]); it may be
// in any case, which does not change the result.
func UUIDv5(namespace, name string) (string, error) {
	ns, ok := uuidParse(namespace)
	if !ok {
		return "", fmt.Errorf("uuid v5: namespace %s: %w", quote(namespace), errUUIDSyntax)
	}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return uuidFormat(u), nil
}

// MustUUIDv5 is like [UUIDv5] but panics when namespace is not a UUID. It
// is meant for package-level values computed from constant namespaces.
func MustUUIDv5(namespace, name string) string {
	id, err := UUIDv5(namespace, name)
	if err != nil {
		panic(err)
	}
	return id
}

// NewUUID returns a random (version 4) UUID in lower-case hyphenated form,
// drawn from crypto/rand.
func NewUUID() string {
	var u [16]byte
	rand.Read(u[:])         // never returns an error; it crashes the program if the system source fails
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return uuidFormat(u)
}

// uuidParse decodes the hyphenated form of a UUID.
func uuidParse(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := uuidHexVal(s[i])
		lo, ok2 := uuidHexVal(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func uuidHexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// uuidFormat writes u in lower-case hyphenated form.
func uuidFormat(u [16]byte) string {
	const hexDigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexDigits[c>>4]
		b[j+1] = hexDigits[c&0x0f]
		j += 2
	}
	return string(b[:])
}
