package xapi

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hms builds a time part from hours, minutes, seconds and hundredths.
func hms(h, m, s, cs int64) time.Duration {
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(cs)*10*time.Millisecond
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Duration
	}{
		// xAPI specification and conformance suite examples
		{"spec example", "PT1H2M3.45S", Duration{Time: hms(1, 2, 3, 45)}},
		{"suite seconds only", "PT16559.14S", Duration{Time: hms(4, 35, 59, 14)}},
		{"suite normalized", "PT4H35M59.14S", Duration{Time: hms(4, 35, 59, 14)}},
		{"suite valid duration", "PT1H0M0.1S", Duration{Time: hms(1, 0, 0, 10)}},
		{"suite all parts", "P3Y1M29DT4H35M59.14S", Duration{Years: 3, Months: 1, Days: 29, Time: hms(4, 35, 59, 14)}},
		{"suite years", "P3Y", Duration{Years: 3}},
		{"suite weeks", "P4W", Duration{Weeks: 4}},
		// other valid forms
		{"all date parts", "P1Y2M3DT4H5M6S", Duration{Years: 1, Months: 2, Days: 3, Time: hms(4, 5, 6, 0)}},
		{"days", "P3D", Duration{Days: 3}},
		{"months", "P2M", Duration{Months: 2}},
		{"minutes", "PT2M", Duration{Time: hms(0, 2, 0, 0)}},
		{"zero seconds", "PT0S", Duration{}},
		{"zero days", "P0D", Duration{}},
		{"zero weeks", "P0W", Duration{}},
		{"leading zeros", "PT01H002M", Duration{Time: hms(1, 2, 0, 0)}},
		{"hours past a day", "PT36H", Duration{Time: 36 * time.Hour}},
		{"date and seconds", "P1DT0.5S", Duration{Days: 1, Time: 500 * time.Millisecond}},
		{"sub-centisecond truncated", "PT3.456S", Duration{Time: hms(0, 0, 3, 45)}},
		{"below precision", "PT0.009S", Duration{}},
		{"many fraction digits", "PT0.0199999999999999999999999S", Duration{Time: 10 * time.Millisecond}},
		{"fraction of hours", "PT1.5H", Duration{Time: 90 * time.Minute}},
		{"fraction of minutes", "PT1H0.25M", Duration{Time: hms(1, 0, 15, 0)}},
		{"one third of a minute", "PT0.3333333M", Duration{Time: hms(0, 0, 19, 99)}},
		{"largest years", "P9223372036854775807Y", Duration{Years: math.MaxInt64}},
		{"largest seconds", "PT9223372036.85S", Duration{Time: time.Duration(9223372036850000000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDuration(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", errDurEmpty},
		{"suite invalid string", "should fail", errDurSyntax},
		{"suite invalid duration", "PA1H0M0S", errDurSyntax},
		{"weeks and days", "P4W1D", errDurWeeks},
		{"years and weeks", "P1Y4W", errDurWeeks},
		{"weeks and time", "P4WT1H", errDurWeeks},
		{"alternative format", "P0001-02-03T04:05:06", errDurAltFormat},
		{"alternative time only", "PT04:05:06", errDurAltFormat},
		{"P alone", "P", errDurNoParts},
		{"PT alone", "PT", errDurNoParts},
		{"T without time part", "P1DT", errDurNoParts},
		{"negative", "-PT1S", errDurNegative},
		{"negative part", "P-1D", errDurNegative},
		{"negative time part", "PT-1S", errDurNegative},
		{"plus sign", "+PT1S", errDurSyntax},
		{"lower-case p", "pt1s", errDurSyntax},
		{"lower-case designator", "PT1h", errDurSyntax},
		{"lower-case t", "P1Dt1H", errDurSyntax},
		{"comma decimal", "PT1,5S", errDurFraction},
		{"space inside", "PT1H 2M", errDurSyntax},
		{"leading space", " PT1S", errDurSyntax},
		{"trailing space", "PT1S ", errDurSyntax},
		{"number without designator", "PT12", errDurSyntax},
		{"designator without number", "PTS", errDurSyntax},
		{"time designator in date part", "P1H", errDurSyntax},
		{"date designator in time part", "PT1D", errDurSyntax},
		{"out of order", "P1D2Y", errDurSyntax},
		{"repeated", "PT1S2S", errDurSyntax},
		{"T twice", "PT1HT2M", errDurSyntax},
		{"fraction of days", "P1.5D", errDurFraction},
		{"fraction not last", "PT1.5H2M", errDurFraction},
		{"fraction without digits after", "PT1.S", errDurFraction},
		{"fraction without digits before", "PT.5S", errDurFraction},
		{"years overflow", "P9223372036854775808Y", errDurRange},
		{"huge number", "P99999999999999999999999D", errDurRange},
		{"time part overflow", "PT2562048H", errDurRange},
		{"time parts sum overflow", "PT2562047H47M16.86S", errDurRange},
		{"number only", "12", errDurSyntax},
		{"unicode digit", "PT١S", errDurSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseDuration(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			if !got.IsZero() {
				t.Errorf("ParseDuration(%q) = %+v with an error, want the zero Duration", tt.in, got)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Duration
		want string
	}{
		{"zero", Duration{}, "PT0S"},
		{"date parts without zeros", Duration{Years: 1, Days: 3}, "P1Y3D"},
		{"all parts", Duration{Years: 1, Months: 2, Days: 3, Time: hms(4, 5, 6, 0)}, "P1Y2M3DT4H5M6S"},
		{"weeks alone", Duration{Weeks: 4}, "P4W"},
		{"weeks folded into days", Duration{Weeks: 4, Days: 1}, "P29D"},
		{"weeks with time folded", Duration{Weeks: 1, Time: time.Hour}, "P7DT1H"},
		{"weeks overflow saturates", Duration{Weeks: math.MaxInt64, Days: 1}, "P9223372036854775807D"},
		{"seconds carried", Duration{Time: 16559*time.Second + 140*time.Millisecond}, "PT4H35M59.14S"},
		{"hours never carried into days", Duration{Time: 49 * time.Hour}, "PT49H"},
		{"whole seconds", Duration{Time: 3 * time.Second}, "PT3S"},
		{"one decimal", Duration{Time: 3400 * time.Millisecond}, "PT3.4S"},
		{"two decimals", Duration{Time: 3450 * time.Millisecond}, "PT3.45S"},
		{"leading zero decimal", Duration{Time: 3050 * time.Millisecond}, "PT3.05S"},
		{"only hundredths", Duration{Time: 10 * time.Millisecond}, "PT0.01S"},
		{"sub-centisecond truncated", Duration{Time: 3459 * time.Millisecond}, "PT3.45S"},
		{"below precision is zero", Duration{Time: 9 * time.Millisecond}, "PT0S"},
		{"hours and seconds", Duration{Time: time.Hour + 5*time.Second}, "PT1H5S"},
		{"minutes only", Duration{Time: 2 * time.Minute}, "PT2M"},
		{"days and time", Duration{Days: 1, Time: 500 * time.Millisecond}, "P1DT0.5S"},
		{"negative parts as zero", Duration{Years: -1, Days: 2, Time: -time.Second}, "P2D"},
		{"largest time", Duration{Time: math.MaxInt64}, "PT2562047H47M16.85S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.in.String()); diff != "" {
				t.Errorf("%+v.String() mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDurationOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Duration
		want Duration
	}{
		{"zero", 0, Duration{}},
		{"whole", 90 * time.Second, Duration{Time: 90 * time.Second}},
		{"truncated to 10ms", 1234567891 * time.Nanosecond, Duration{Time: 1230 * time.Millisecond}},
		{"below precision", 9 * time.Millisecond, Duration{}},
		{"negative", -time.Hour, Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, DurationOf(tt.in)); diff != "" {
				t.Errorf("DurationOf(%v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDurationIsZero(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Duration
		want bool
	}{
		{"zero value", Duration{}, true},
		{"years", Duration{Years: 1}, false},
		{"months", Duration{Months: 1}, false},
		{"weeks", Duration{Weeks: 1}, false},
		{"days", Duration{Days: 1}, false},
		{"time", Duration{Time: 10 * time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.in.IsZero()); diff != "" {
				t.Errorf("%+v.IsZero() mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// checkDurationRoundTrip checks that d is a Duration ParseDuration can
// return and that its canonical form parses back to it.
func checkDurationRoundTrip(t *testing.T, d Duration) {
	t.Helper()
	if d.Years < 0 || d.Months < 0 || d.Weeks < 0 || d.Days < 0 || d.Time < 0 || d.Time%durPrecision != 0 {
		t.Fatalf("%+v has a negative part or a time part that is not a multiple of 10ms", d)
	}
	if d.Weeks != 0 && (d.Years != 0 || d.Months != 0 || d.Days != 0 || d.Time != 0) {
		t.Fatalf("%+v combines weeks with other parts", d)
	}
	s := d.String()
	back, err := ParseDuration(s)
	if err != nil {
		t.Fatalf("ParseDuration(%+v.String() = %q): %v", d, s, err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Fatalf("ParseDuration(%q) mismatch (-want +got):\n%s", s, diff)
	}
	if again := back.String(); again != s {
		t.Fatalf("String is not idempotent through ParseDuration: %q then %q", s, again)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{
		"PT1H2M3.45S", "PT16559.14S", "P4W", "P1Y2M3DT4H5M6S", "P3D", "PT0S",
		"P3Y1M29DT4H35M59.14S", "PT1H0M0.1S", "PT1.5H", "P4W1D", "P0001-02-03T04:05:06",
		"P", "PT", "P1DT", "-PT1S", "PT1,5S", "P9223372036854775807Y", "PT2562047H47M16.85S",
		"PT0.0000000000000000000001S", "", "pt1s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !d.IsZero() {
				t.Fatalf("ParseDuration(%q) = %+v with error %v", s, d, err)
			}
			return
		}
		checkDurationRoundTrip(t, d)
	})
}

func FuzzDurationString(f *testing.F) {
	f.Add(int64(1), int64(2), int64(0), int64(3), int64(3723450000000))
	f.Add(int64(0), int64(0), int64(4), int64(0), int64(0))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(0), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, years, months, weeks, days, nanos int64) {
		abs := func(n int64) int64 {
			if n < 0 {
				return -(n + 1)
			}
			return n
		}
		d := Duration{Years: abs(years), Months: abs(months), Days: abs(days), Time: DurationOf(time.Duration(abs(nanos))).Time}
		if weeks != 0 {
			d = Duration{Weeks: abs(weeks)}
		}
		checkDurationRoundTrip(t, d)
		if strings.ContainsAny(d.String(), "-,. ") && !strings.HasSuffix(d.String(), "S") {
			t.Fatalf("%+v.String() = %q has a sign, comma, space or a fraction outside seconds", d, d.String())
		}
	})
}

func BenchmarkParseDuration(b *testing.B) {
	for _, s := range []string{"PT1H2M3.45S", "P3Y1M29DT4H35M59.14S"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDuration(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
