package bench

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sdk/xapi/internal/baseline"
)

// codec is one way to decode (and maybe validate) and encode a statement,
// appending the encoding to out.
type codec struct {
	name string
	run  func(in, out []byte) ([]byte, error)
}

var codecs = []codec{
	{"lrsbridge", func(in, out []byte) ([]byte, error) {
		st, probs := xapi.Check(in, xapi.V200)
		if len(probs) > 0 {
			return out, probs
		}
		return xapi.Append(out, st, xapi.V200)
	}},
	{"encoding-json", baseline.EncodingJSON},
	{"goccy-go-json", func(in, out []byte) ([]byte, error) {
		var st baseline.Statement
		if err := gojson.Unmarshal(in, &st); err != nil {
			return out, err
		}
		data, err := gojson.Marshal(&st)
		return append(out, data...), err
	}},
}

func inputs(b *testing.B, n int) [][]byte {
	b.Helper()
	in, err := baseline.Inputs(filepath.Join("..", "..", "testdata", "roundtrip"), n)
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkCodec runs lrsbridge's decode + validate + encode, and decode +
// encode (no validation) with encoding/json and github.com/goccy/go-json,
// of the same batch one after the other in every iteration, so that all
// three see the same machine even when it is busy. It reports each one's
// statements per second and lrsbridge's speed as a multiple of each other
// library's (x-encoding-json, x-goccy-go-json).
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{1, 100} {
		in := inputs(b, n)
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			took := make([]time.Duration, len(codecs))
			for b.Loop() {
				for i, c := range codecs {
					t0 := time.Now()
					for _, st := range in {
						var err error
						if buf, err = c.run(st, buf[:0]); err != nil {
							b.Fatalf("%s: %v", c.name, err)
						}
					}
					took[i] += time.Since(t0)
				}
			}
			for i, c := range codecs {
				b.ReportMetric(float64(b.N*n)/took[i].Seconds(), c.name+"-statements/s")
				if i > 0 {
					b.ReportMetric(took[i].Seconds()/took[0].Seconds(), "x-"+c.name)
				}
			}
		})
	}
}
