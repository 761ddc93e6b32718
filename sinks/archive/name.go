package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// maxOrgDirLen bounds the length of an organization's directory name, well
// below the 255 bytes most file systems allow.
const maxOrgDirLen = 120

// orgDirName returns the directory name of org's files inside the archive
// directory. The mapping is injective and safe on every file system:
//   - lower-case ASCII letters, digits and '-' are kept;
//   - every other byte (upper-case letters included, so that "Acme" and "acme"
//     stay apart on case-insensitive file systems) becomes '_' and two
//     lower-case hex digits;
//   - a name that would be longer than maxOrgDirLen is cut and gets '~' and
//     the hex SHA-256 of the whole org id appended ('~' never appears in a
//     short name).
//
// The result never contains a path separator, is never "." or "..", and never
// starts with '.', so it can neither escape the archive directory nor hide.
func orgDirName(org string) string {
	var b strings.Builder
	for i := 0; i < len(org); i++ {
		c := org[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	s := b.String()
	if len(s) <= maxOrgDirLen {
		return s
	}
	sum := sha256.Sum256([]byte(org))
	return s[:maxOrgDirLen-1-2*len(sum)] + "~" + hex.EncodeToString(sum[:])
}

// dataFile names one data file of an organization: the statements of one UTC
// day, part Part (parts start at 1 and grow with size rotation).
type dataFile struct {
	Day  string // YYYY-MM-DD
	Part int
	Gzip bool
}

// name returns the file name, for example "2026-05-01.0001.ndjson.gz".
func (f dataFile) name() string {
	n := fmt.Sprintf("%s.%04d.ndjson", f.Day, f.Part)
	if f.Gzip {
		n += ".gz"
	}
	return n
}

// less orders files by day, then part.
func (f dataFile) less(g dataFile) bool {
	if f.Day != g.Day {
		return f.Day < g.Day
	}
	return f.Part < g.Part
}

// parseDataFile parses a data file name; ok is false for any other name
// (temporary files, the manifest, the lock file).
func parseDataFile(name string) (f dataFile, ok bool) {
	rest, gz := strings.CutSuffix(name, ".ndjson.gz")
	if !gz {
		var plain bool
		rest, plain = strings.CutSuffix(name, ".ndjson")
		if !plain {
			return dataFile{}, false
		}
	}
	day, part, found := strings.Cut(rest, ".")
	if !found || len(day) != len(dayLayout) || len(part) < 4 {
		return dataFile{}, false
	}
	if _, err := parseDay(day); err != nil {
		return dataFile{}, false
	}
	n, err := strconv.Atoi(part)
	if err != nil || n < 1 {
		return dataFile{}, false
	}
	return dataFile{Day: day, Part: n, Gzip: gz}, true
}
