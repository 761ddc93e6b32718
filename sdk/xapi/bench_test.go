package xapi

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi/internal/baseline"
)

// The baseline decodes into tagged structs that mirror the statement model
// (package baseline), the usual way a Go program reads statements. It checks
// neither unknown keys (case-insensitively only, in encoding/json) nor any
// xAPI rule, so it is a floor for what strict decoding and validation cost.
// The comparison with other JSON libraries lives in the separate module in
// internal/bench, so that their requirements stay out of lrsbridge's go.mod.

// benchInputs returns n statements cycling through the round-trip fixtures.
func benchInputs(b *testing.B, n int) [][]byte {
	b.Helper()
	in, err := baseline.Inputs(filepath.Join("testdata", "roundtrip"), n)
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// checkAndAppend is lrsbridge's round trip: strict decode, validation and
// canonical encoding, appended to out.
func checkAndAppend(in, out []byte) ([]byte, error) {
	st, probs := Check(in, V200)
	if len(probs) > 0 {
		return out, probs
	}
	return Append(out, st, V200)
}

// BenchmarkCodec measures decode, validate and encode of batches of 1 and
// 100 statements with lrsbridge's strict codec, against decode and encode
// (no validation) with encoding/json in the same run.
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{1, 100} {
		inputs := benchInputs(b, n)
		var size int64
		for _, in := range inputs {
			size += int64(len(in))
		}
		run := func(name string, f func(in, out []byte) ([]byte, error)) {
			b.Run(name+"/batch="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				buf := make([]byte, 0, 4096)
				for b.Loop() {
					for _, in := range inputs {
						var err error
						if buf, err = f(in, buf[:0]); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "statements/s")
			})
		}
		run("lrsbridge", checkAndAppend)
		run("encoding-json", baseline.EncodingJSON)
	}
}

// BenchmarkParse and BenchmarkMarshal split the codec cost.
func BenchmarkParse(b *testing.B) {
	in := benchInputs(b, 1)[0]
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	in := benchInputs(b, 1)[0]
	st, err := Parse(in)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		if buf, err = Append(buf[:0], st, V200); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodecVsStdlib runs lrsbridge's decode + validate + encode and
// encoding/json's decode + encode (no validation) of the same batch one
// after the other in every iteration, so that both see the same machine
// even when it is busy, and reports the ratio of their throughputs
// (x-encoding-json: how many times faster lrsbridge is).
func BenchmarkCodecVsStdlib(b *testing.B) {
	for _, n := range []int{1, 100} {
		inputs := benchInputs(b, n)
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			var ours, std time.Duration
			for b.Loop() {
				t0 := time.Now()
				for _, in := range inputs {
					var err error
					if buf, err = checkAndAppend(in, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				for _, in := range inputs {
					var err error
					if buf, err = baseline.EncodingJSON(in, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				ours, std = ours+t1.Sub(t0), std+time.Since(t1)
			}
			b.ReportMetric(float64(b.N*n)/ours.Seconds(), "lrsbridge-statements/s")
			b.ReportMetric(float64(b.N*n)/std.Seconds(), "encoding-json-statements/s")
			b.ReportMetric(std.Seconds()/ours.Seconds(), "x-encoding-json")
		})
	}
}
