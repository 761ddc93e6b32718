package xapi

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Duration is an ISO 8601 duration as xAPI uses it (result.duration). The
// date parts are kept as given; the time part is held as a time.Duration
// truncated to 0.01 s, the precision at which xAPI compares durations.
//
// The zero value is the zero duration, written "PT0S".
type Duration struct {
	// Years, Months, Weeks and Days are the date parts as written. Weeks
	// are only used alone ("P4W"): ISO 8601 does not combine them with
	// other parts.
	Years, Months, Weeks, Days int64
	// Time is the hours, minutes and seconds together. It is never
	// negative and is a multiple of 10 ms. Hours are not carried into
	// days: a day is not always 24 hours long.
	Time time.Duration
}

// durPrecision is the precision of the time part of a Duration.
const durPrecision = 10 * time.Millisecond

// Errors wrapped by ParseDuration, one for each kind of mistake.
var (
	errDurEmpty     = errors.New("empty")
	errDurSyntax    = errors.New("not an ISO 8601 duration")
	errDurNegative  = errors.New("negative durations are not allowed")
	errDurAltFormat = errors.New("the alternative format PYYYY-MM-DDThh:mm:ss is not allowed")
	errDurNoParts   = errors.New("missing parts")
	errDurWeeks     = errors.New("weeks cannot be combined with other parts")
	errDurFraction  = errors.New("bad fraction")
	errDurRange     = errors.New("number out of range")
)

// durError is the error returned by ParseDuration: the input, the kind of
// mistake (one of the errDur values, for errors.Is) and an optional detail.
type durError struct {
	input  string
	kind   error
	detail string
}

func (e *durError) Error() string {
	msg := "duration " + quote(e.input) + ": " + e.kind.Error()
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

func (e *durError) Unwrap() error { return e.kind }

// ParseDuration parses an ISO 8601 duration in the format of ISO 8601:2004
// section 4.4.3.2 that xAPI requires, for example "PT1H2M3.45S",
// "PT16559.14S", "P3Y1M29DT4H35M59.14S" or "P4W".
//
// The rules, checked against the xAPI 1.0.3 and 2.0 specifications and the
// ADL LRS conformance suite:
//   - the designators P, Y, M, W, D, T, H, M and S are upper case and appear
//     in that order, each at most once;
//   - at least one part is present, and a "T" is followed by at least one of
//     hours, minutes or seconds ("P", "PT" and "P1DT" are rejected);
//   - weeks stand alone ("P4W1D" is rejected);
//   - the alternative format ("P0001-02-03T04:05:06") and negative
//     durations are rejected, as are spaces and signs;
//   - numbers are decimal digits; only the last part may have a fraction,
//     and only when it is hours, minutes or seconds ("PT1.5H", "PT3.45S").
//     A fraction needs digits on both sides of the decimal point, which must
//     be a full stop: the comma ISO 8601 also allows is rejected, as the
//     validators LRSs commonly use reject it. Fractions of date parts are
//     rejected because a Duration keeps them as integers.
//
// The time part is truncated to 0.01 s; digits past the 18th of a fraction
// are ignored. Numbers too large for a Duration are an error.
func ParseDuration(s string) (Duration, error) {
	fail := func(kind error, detail string) (Duration, error) {
		return Duration{}, &durError{input: s, kind: kind, detail: detail}
	}
	if s == "" {
		return fail(errDurEmpty, "")
	}
	switch s[0] {
	case '-':
		return fail(errDurNegative, "")
	case 'P':
	case 'p':
		return fail(errDurSyntax, "designators must be upper case")
	default:
		return fail(errDurSyntax, "must start with \"P\"")
	}
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == ':' || s[i] == '-' && '0' <= s[i-1] && s[i-1] <= '9':
			return fail(errDurAltFormat, "")
		case s[i] == '-':
			return fail(errDurNegative, "")
		}
	}

	var d Duration
	var timeNanos int64 // time part so far, in nanoseconds
	inTime := false
	weeks := false // "W" seen
	parts := 0
	// order is the rank of the last designator seen; designators must
	// strictly increase: Y=1 M=2 W=3 D=4, then T, then H=6 M=7 S=8.
	order := 0
	i := 1
	for i < len(s) {
		if s[i] == 'T' {
			if inTime {
				return fail(errDurSyntax, "\"T\" appears twice")
			}
			inTime = true
			order = 5
			i++
			if i == len(s) {
				return fail(errDurNoParts, "\"T\" must be followed by hours, minutes or seconds")
			}
			continue
		}
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		intDigits := s[start:i]
		fracDigits := ""
		hasFrac := false
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			if s[i] == ',' {
				return fail(errDurFraction, "the decimal separator must be \".\"")
			}
			hasFrac = true
			i++
			fs := i
			for i < len(s) && '0' <= s[i] && s[i] <= '9' {
				i++
			}
			fracDigits = s[fs:i]
			if fracDigits == "" {
				return fail(errDurFraction, "digits must follow the decimal point")
			}
		}
		if intDigits == "" {
			if hasFrac {
				return fail(errDurFraction, "digits must precede the decimal point")
			}
			if i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
				return fail(errDurSyntax, "designators must be upper case")
			}
			if i < len(s) {
				return fail(errDurSyntax, "expected a digit at "+quote(s[i:i+1]))
			}
			return fail(errDurSyntax, "")
		}
		if i == len(s) {
			return fail(errDurSyntax, "number "+quote(s[start:])+" has no designator")
		}
		des := s[i]
		i++
		rank := 0
		if inTime {
			switch des {
			case 'H':
				rank = 6
			case 'M':
				rank = 7
			case 'S':
				rank = 8
			}
		} else {
			switch des {
			case 'Y':
				rank = 1
			case 'M':
				rank = 2
			case 'W':
				rank = 3
			case 'D':
				rank = 4
			}
		}
		if rank == 0 {
			if 'a' <= des && des <= 'z' {
				return fail(errDurSyntax, "designators must be upper case")
			}
			return fail(errDurSyntax, "unexpected "+quote(string(des)))
		}
		if rank <= order {
			return fail(errDurSyntax, "designator "+quote(string(des))+" out of order or repeated")
		}
		order = rank
		parts++
		if rank == 3 {
			weeks = true
		}
		if weeks && parts > 1 {
			return fail(errDurWeeks, "")
		}
		if hasFrac {
			if !inTime {
				return fail(errDurFraction, "only hours, minutes or seconds may have a fraction")
			}
			if i != len(s) {
				return fail(errDurFraction, "only the last part may have a fraction")
			}
		}
		n, ok := durParseUint(intDigits)
		if !ok {
			return fail(errDurRange, quote(intDigits))
		}
		switch rank {
		case 1:
			d.Years = n
		case 2:
			d.Months = n
		case 3:
			d.Weeks = n
		case 4:
			d.Days = n
		default:
			unit := int64(time.Hour)
			if rank == 7 {
				unit = int64(time.Minute)
			} else if rank == 8 {
				unit = int64(time.Second)
			}
			v, ok := durMul(n, unit)
			if ok && hasFrac {
				v, ok = durAdd(v, durFraction(fracDigits, unit))
			}
			if ok {
				timeNanos, ok = durAdd(timeNanos, v)
			}
			if !ok {
				return fail(errDurRange, "the time part is too long")
			}
		}
	}
	if parts == 0 {
		return fail(errDurNoParts, "")
	}
	d.Time = time.Duration(timeNanos).Truncate(durPrecision)
	return d, nil
}

// durParseUint parses a non-empty string of ASCII digits as a non-negative
// int64, reporting false on overflow.
func durParseUint(digits string) (int64, bool) {
	var n int64
	for i := 0; i < len(digits); i++ {
		c := int64(digits[i] - '0')
		if n > (math.MaxInt64-c)/10 {
			return 0, false
		}
		n = n*10 + c
	}
	return n, true
}

// durFraction returns unit times 0.digits, truncated to whole nanoseconds.
// Digits past the 18th are ignored.
func durFraction(digits string, unit int64) int64 {
	if len(digits) > 18 {
		digits = digits[:18]
	}
	var num, den uint64 = 0, 1
	for i := 0; i < len(digits); i++ {
		num = num*10 + uint64(digits[i]-'0')
		den *= 10
	}
	// unit*num/den without overflow: num < den, so the high word of the
	// product is below den and Div64 cannot panic.
	hi, lo := bits.Mul64(uint64(unit), num)
	q, _ := bits.Div64(hi, lo, den)
	return int64(q) // q < unit
}

func durMul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt64/b {
		return 0, false
	}
	return a * b, true
}

func durAdd(a, b int64) (int64, bool) {
	if a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// DurationOf converts d to a Duration with only a time part, truncated to
// 0.01 s. A negative d gives the zero Duration.
func DurationOf(d time.Duration) Duration {
	if d <= 0 {
		return Duration{}
	}
	return Duration{Time: d.Truncate(durPrecision)}
}

// IsZero reports whether every part of d is zero.
func (d Duration) IsZero() bool {
	return d == Duration{}
}

// String returns the canonical form of d, the form lrsbridge sends to LRSs:
//   - date parts as given, leaving out zero parts ("P1Y3D");
//   - weeks alone as "P4W"; weeks together with other parts, which ISO 8601
//     cannot write, are folded into days (7 days a week);
//   - the time part in hours, minutes and seconds, with seconds carried into
//     minutes and minutes into hours but never hours into days
//     ("PT16559.14S" becomes "PT4H35M59.14S");
//   - seconds without a fraction when whole, otherwise with one or two
//     decimals and no trailing zeros ("PT3.4S", "PT3.45S"); digits below
//     0.01 s are truncated;
//   - the zero duration as "PT0S".
//
// Negative parts, which ParseDuration never produces, are written as zero.
// For every Duration d that ParseDuration returns, ParseDuration(d.String())
// returns d again.
func (d Duration) String() string {
	y, mo, w, days := max(d.Years, 0), max(d.Months, 0), max(d.Weeks, 0), max(d.Days, 0)
	t := max(d.Time, 0).Truncate(durPrecision)
	if w != 0 && (y != 0 || mo != 0 || days != 0 || t != 0) {
		wd, ok := durMul(w, 7)
		if ok {
			days, ok = durAdd(days, wd)
		}
		if !ok {
			days = math.MaxInt64
		}
		w = 0
	}
	if y == 0 && mo == 0 && w == 0 && days == 0 && t == 0 {
		return "PT0S"
	}
	b := make([]byte, 0, 32)
	b = append(b, 'P')
	b = durAppendPart(b, y, 'Y')
	b = durAppendPart(b, mo, 'M')
	b = durAppendPart(b, w, 'W')
	b = durAppendPart(b, days, 'D')
	if t != 0 {
		b = append(b, 'T')
		h := int64(t / time.Hour)
		t -= time.Duration(h) * time.Hour
		m := int64(t / time.Minute)
		t -= time.Duration(m) * time.Minute
		b = durAppendPart(b, h, 'H')
		b = durAppendPart(b, m, 'M')
		if t != 0 {
			sec := int64(t / time.Second)
			cs := int64((t % time.Second) / durPrecision) // hundredths
			b = strconv.AppendInt(b, sec, 10)
			if cs != 0 {
				b = append(b, '.', byte('0'+cs/10))
				if cs%10 != 0 {
					b = append(b, byte('0'+cs%10))
				}
			}
			b = append(b, 'S')
		}
	}
	return string(b)
}

func durAppendPart(b []byte, n int64, designator byte) []byte {
	if n == 0 {
		return b
	}
	b = strconv.AppendInt(b, n, 10)
	return append(b, designator)
}
