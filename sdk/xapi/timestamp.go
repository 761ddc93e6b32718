package xapi

import (
	"errors"
	"time"
)

// Errors wrapped by ParseTimestamp, one for each kind of mistake.
var (
	errTSSyntax  = errors.New("not an ISO 8601 date and time")
	errTSNoZone  = errors.New("missing zone: add \"Z\" or an offset such as \"+02:00\"")
	errTSNegZero = errors.New("the negative zero offset is not allowed; use \"Z\" or \"+00:00\"")
	errTSRange   = errors.New("out of range")
)

// tsError is the error returned by ParseTimestamp: the input, the kind of
// mistake (one of the errTS values, for errors.Is) and an optional detail.
type tsError struct {
	input  string
	kind   error
	detail string
}

func (e *tsError) Error() string {
	msg := "timestamp " + quote(e.input) + ": " + e.kind.Error()
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

func (e *tsError) Unwrap() error { return e.kind }

// tsLayout is the layout of FormatTimestamp.
const tsLayout = "2006-01-02T15:04:05.000Z"

// ParseTimestamp parses an xAPI timestamp and returns it in UTC.
//
// It accepts the complete ISO 8601 representation of a calendar date and a
// time of day with a zone, the forms LRSs accept:
//   - extended "2008-09-15T15:53:00.601Z" (RFC 3339) or basic
//     "20080915T155300.601Z", without mixing the two;
//   - "T", "t" or a space between date and time (RFC 3339 allows the
//     space; the xAPI 2.0 conformance suite sends one);
//   - seconds are required; a fraction of a second, after a full stop, may
//     have any number of digits (digits past nanoseconds are truncated);
//   - the zone is required: "Z", "z", or an offset "+hh:mm", "+hhmm" or
//     "+hh" (or with "-") of at most 23:59. The negative zero offsets
//     "-00:00", "-0000" and "-00" mean "offset unknown" in RFC 3339 and the
//     xAPI conformance suite rejects them, so they are an error.
//
// Dates must exist (no February 30), hours are 00-23 (no "24:00:00"),
// seconds 00-59 (leap seconds cannot be represented by time.Time), and the
// year 0000-9999 both as written and in UTC.
func ParseTimestamp(s string) (time.Time, error) {
	fail := func(kind error, detail string) (time.Time, error) {
		return time.Time{}, &tsError{input: s, kind: kind, detail: detail}
	}
	p := tsParser{s: s}
	year, ok := p.digits(4)
	if !ok {
		return fail(errTSSyntax, "expected a four-digit year")
	}
	extended := p.peek() == '-'
	if extended {
		p.i++
	}
	month, ok := p.digits(2)
	if ok && extended {
		ok = p.expect('-')
	}
	var day int
	if ok {
		day, ok = p.digits(2)
	}
	if !ok {
		return fail(errTSSyntax, "expected a date YYYY-MM-DD")
	}
	switch p.peek() {
	case 'T', 't', ' ':
		p.i++
	case 0:
		return fail(errTSSyntax, "missing the time of day")
	default:
		return fail(errTSSyntax, "expected \"T\" between date and time")
	}
	hour, ok := p.digits(2)
	if ok && extended {
		ok = p.expect(':')
	}
	var minute, sec int
	if ok {
		minute, ok = p.digits(2)
	}
	if ok && extended {
		ok = p.expect(':')
	}
	if ok {
		sec, ok = p.digits(2)
	}
	if !ok {
		if extended {
			return fail(errTSSyntax, "expected a time hh:mm:ss")
		}
		return fail(errTSSyntax, "expected a time hhmmss")
	}
	nsec := 0
	switch p.peek() {
	case '.':
		p.i++
		start := p.i
		scale := int(time.Second)
		for p.i < len(s) && tsIsDigit(s[p.i]) {
			scale /= 10
			nsec += int(s[p.i]-'0') * scale // adds 0 past nanoseconds
			p.i++
		}
		if p.i == start {
			return fail(errTSSyntax, "digits must follow the decimal point")
		}
	case ',':
		return fail(errTSSyntax, "the decimal separator must be \".\"")
	}

	loc := time.UTC
	switch c := p.peek(); c {
	case 0:
		return fail(errTSNoZone, "")
	case 'Z', 'z':
		p.i++
	case '+', '-':
		p.i++
		oh, ok := p.digits(2)
		if !ok {
			return fail(errTSSyntax, "expected an offset +hh:mm")
		}
		om := 0
		if p.peek() == ':' {
			p.i++
			if om, ok = p.digits(2); !ok {
				return fail(errTSSyntax, "expected an offset +hh:mm")
			}
		} else if tsIsDigit(p.peek()) {
			if om, ok = p.digits(2); !ok {
				return fail(errTSSyntax, "expected an offset +hhmm")
			}
		}
		if oh > 23 || om > 59 {
			return fail(errTSRange, "offset beyond 23:59")
		}
		if oh == 0 && om == 0 {
			if c == '-' {
				return fail(errTSNegZero, "")
			}
		} else {
			off := (oh*60 + om) * 60
			if c == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		}
	default:
		return fail(errTSSyntax, "unexpected "+quote(s[p.i:p.i+1]))
	}
	if p.i != len(s) {
		return fail(errTSSyntax, "unexpected "+quote(s[p.i:])+" after the zone")
	}

	switch {
	case month < 1 || month > 12:
		return fail(errTSRange, "month must be 01-12")
	case day < 1 || day > tsDaysIn(year, month):
		return fail(errTSRange, "no such day in that month")
	case hour > 23:
		return fail(errTSRange, "hour must be 00-23")
	case minute > 59:
		return fail(errTSRange, "minute must be 00-59")
	case sec > 59:
		return fail(errTSRange, "second must be 00-59")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return fail(errTSRange, "year outside 0000-9999 in UTC")
	}
	return t, nil
}

// FormatTimestamp formats t in UTC with exactly three fractional digits,
// as lrsbridge sends timestamps: "2006-01-02T15:04:05.000Z". Digits below
// the millisecond are truncated, not rounded. t should lie within the years
// 0000-9999 in UTC, as every time ParseTimestamp returns does.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	t = t.Add(-time.Duration(t.Nanosecond() % int(time.Millisecond)))
	return t.Format(tsLayout)
}

// tsParser reads a timestamp left to right.
type tsParser struct {
	s string
	i int
}

// peek returns the next byte, or 0 at the end.
func (p *tsParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *tsParser) expect(c byte) bool {
	if p.peek() != c {
		return false
	}
	p.i++
	return true
}

// digits reads exactly n ASCII digits as a number.
func (p *tsParser) digits(n int) (int, bool) {
	if len(p.s)-p.i < n {
		return 0, false
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if !tsIsDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

func tsIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// tsDaysIn returns the number of days in month of the proleptic Gregorian
// year.
func tsDaysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
