package xapi

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseTimestamp(t *testing.T) {
	t.Parallel()
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	suiteInstant := utc(2008, 9, 15, 15, 53, 0, 601000000)
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"UTC with milliseconds", "2008-09-15T15:53:00.601Z", suiteInstant},
		{"suite RFC 3339 with space", "2008-09-15 15:53:00.601+00:00", suiteInstant},
		{"positive zero offset", "2008-09-15T15:53:00.601+00:00", suiteInstant},
		{"positive zero offset basic", "2008-09-15T15:53:00.601+0000", suiteInstant},
		{"positive zero offset hours", "2008-09-15T15:53:00.601+00", suiteInstant},
		{"lower-case t and z", "2008-09-15t15:53:00.601z", suiteInstant},
		{"basic format", "20080915T155300.601Z", suiteInstant},
		{"basic format with offset", "20080915T175300.601+0200", suiteInstant},
		{"positive offset", "2008-09-15T17:53:00.601+02:00", suiteInstant},
		{"negative offset", "2008-09-15T10:23:00.601-05:30", suiteInstant},
		{"negative offset hours only", "2008-09-15T10:53:00.601-05", suiteInstant},
		{"negative offset without colon", "2008-09-15T10:23:00.601-0530", suiteInstant},
		{"no fraction", "2013-05-18T05:32:34Z", utc(2013, 5, 18, 5, 32, 34, 0)},
		{"one fraction digit", "2013-05-18T05:32:34.5Z", utc(2013, 5, 18, 5, 32, 34, 500000000)},
		{"nanoseconds", "2013-05-18T05:32:34.123456789Z", utc(2013, 5, 18, 5, 32, 34, 123456789)},
		{"digits past nanoseconds truncated", "2013-05-18T05:32:34.1234567899999Z", utc(2013, 5, 18, 5, 32, 34, 123456789)},
		{"leap day", "2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0, 0)},
		{"leap day of a 400 year", "2000-02-29T00:00:00Z", utc(2000, 2, 29, 0, 0, 0, 0)},
		{"end of day", "2023-12-31T23:59:59.999Z", utc(2023, 12, 31, 23, 59, 59, 999000000)},
		{"offset crosses midnight", "2024-01-01T01:00:00+02:00", utc(2023, 12, 31, 23, 0, 0, 0)},
		{"largest offset", "2024-01-01T00:00:00+23:59", utc(2023, 12, 31, 0, 1, 0, 0)},
		{"year zero", "0000-01-01T00:00:00Z", utc(0, 1, 1, 0, 0, 0, 0)},
		{"year 9999", "9999-12-31T23:59:59.999Z", utc(9999, 12, 31, 23, 59, 59, 999000000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTimestamp(tt.in)
			if err != nil {
				t.Fatalf("ParseTimestamp(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTimestamp(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseTimestamp(%q) location = %v, want UTC", tt.in, got.Location())
			}
		})
	}
}

func TestParseTimestampErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want error
	}{
		// conformance suite cases
		{"suite invalid string", "should fail", errTSSyntax},
		{"suite invalid date", "01/011/2015", errTSSyntax},
		{"suite negative zero hours", "2008-09-15T15:53:00.601-00", errTSNegZero},
		{"suite negative zero basic", "2008-09-15T15:53:00.601-0000", errTSNegZero},
		{"suite negative zero extended", "2008-09-15T15:53:00.601-00:00", errTSNegZero},
		// zone
		{"no zone", "2008-09-15T15:53:00.601", errTSNoZone},
		{"no zone without fraction", "2008-09-15T15:53:00", errTSNoZone},
		{"zone name", "2008-09-15T15:53:00 UTC", errTSSyntax},
		{"offset one digit", "2008-09-15T15:53:00+1", errTSSyntax},
		{"offset three digits", "2008-09-15T15:53:00+010", errTSSyntax},
		{"offset bad minutes", "2008-09-15T15:53:00+01:5", errTSSyntax},
		{"offset hours 24", "2008-09-15T15:53:00+24:00", errTSRange},
		{"offset minutes 60", "2008-09-15T15:53:00+01:60", errTSRange},
		{"trailing text", "2008-09-15T15:53:00Zjunk", errTSSyntax},
		{"trailing space", "2008-09-15T15:53:00Z ", errTSSyntax},
		{"lower-case offset letter", "2008-09-15T15:53:00x", errTSSyntax},
		// shape
		{"empty", "", errTSSyntax},
		{"date only", "2008-09-15", errTSSyntax},
		{"no seconds", "2008-09-15T15:53Z", errTSSyntax},
		{"hour only", "2008-09-15T15Z", errTSSyntax},
		{"two-digit year", "08-09-15T15:53:00Z", errTSSyntax},
		{"five-digit year", "20080-09-15T15:53:00Z", errTSSyntax},
		{"negative year", "-2008-09-15T15:53:00Z", errTSSyntax},
		{"one-digit month", "2008-9-15T15:53:00Z", errTSSyntax},
		{"slash date", "2008/09/15T15:53:00Z", errTSSyntax},
		{"basic date extended time", "20080915T15:53:00Z", errTSSyntax},
		{"extended date basic time", "2008-09-15T155300Z", errTSSyntax},
		{"other separator", "2008-09-15_15:53:00Z", errTSSyntax},
		{"two spaces", "2008-09-15  15:53:00Z", errTSSyntax},
		{"comma fraction", "2008-09-15T15:53:00,601Z", errTSSyntax},
		{"empty fraction", "2008-09-15T15:53:00.Z", errTSSyntax},
		{"RFC 1123", "Mon, 15 Sep 2008 15:53:00 GMT", errTSSyntax},
		{"unix time", "1221494580", errTSSyntax},
		{"unicode digits", "２００８-09-15T15:53:00Z", errTSSyntax},
		// ranges
		{"month 13", "2008-13-15T15:53:00Z", errTSRange},
		{"month 00", "2008-00-15T15:53:00Z", errTSRange},
		{"day 00", "2008-09-00T15:53:00Z", errTSRange},
		{"February 30", "2008-02-30T15:53:00Z", errTSRange},
		{"February 29 in a common year", "2023-02-29T15:53:00Z", errTSRange},
		{"February 29 in 1900", "1900-02-29T00:00:00Z", errTSRange},
		{"April 31", "2008-04-31T15:53:00Z", errTSRange},
		{"hour 24", "2008-09-15T24:00:00Z", errTSRange},
		{"minute 60", "2008-09-15T15:60:00Z", errTSRange},
		{"leap second", "2016-12-31T23:59:60Z", errTSRange},
		{"before year 0000 in UTC", "0000-01-01T00:30:00+01:00", errTSRange},
		{"after year 9999 in UTC", "9999-12-31T23:30:00-01:00", errTSRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTimestamp(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseTimestamp(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			if !got.IsZero() {
				t.Errorf("ParseTimestamp(%q) = %v with an error, want the zero time", tt.in, got)
			}
		})
	}
}

func TestFormatTimestamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"UTC", time.Date(2008, 9, 15, 15, 53, 0, 601000000, time.UTC), "2008-09-15T15:53:00.601Z"},
		{"whole second gets three zeros", time.Date(2008, 9, 15, 15, 53, 0, 0, time.UTC), "2008-09-15T15:53:00.000Z"},
		{"sub-millisecond truncated", time.Date(2008, 9, 15, 15, 53, 0, 999999999, time.UTC), "2008-09-15T15:53:00.999Z"},
		{"offset converted to UTC", time.Date(2008, 9, 15, 17, 53, 0, 601000000, time.FixedZone("", 2*3600)), "2008-09-15T15:53:00.601Z"},
		{"crosses the year in UTC", time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("", 2*3600)), "2023-12-31T23:00:00.000Z"},
		{"year zero", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00.000Z"},
		{"zero time", time.Time{}, "0001-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, FormatTimestamp(tt.in)); diff != "" {
				t.Errorf("FormatTimestamp(%v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2008-09-15T15:53:00.601Z", "2008-09-15 15:53:00.601+00:00", "2008-09-15T15:53:00.601-00",
		"2008-09-15T15:53:00.601-0000", "2008-09-15T15:53:00.601-00:00", "20080915T155300.601+0530",
		"2008-09-15t15:53:00z", "2024-02-29T23:59:59.999999999-23:59", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.9999Z", "2008-02-30T15:53:00Z", "2008-09-15T24:00:00Z", "should fail",
		"01/011/2015", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			if !ts.IsZero() {
				t.Fatalf("ParseTimestamp(%q) = %v with error %v", s, ts, err)
			}
			return
		}
		if ts.Location() != time.UTC {
			t.Fatalf("ParseTimestamp(%q) location = %v, want UTC", s, ts.Location())
		}
		formatted := FormatTimestamp(ts)
		back, err := ParseTimestamp(formatted)
		if err != nil {
			t.Fatalf("ParseTimestamp(FormatTimestamp(%v) = %q): %v", ts, formatted, err)
		}
		if want := ts.Truncate(time.Millisecond); !back.Equal(want) {
			t.Fatalf("ParseTimestamp(%q) = %v, want %v", formatted, back, want)
		}
		if again := FormatTimestamp(back); again != formatted {
			t.Fatalf("FormatTimestamp is not stable: %q then %q", formatted, again)
		}
	})
}
