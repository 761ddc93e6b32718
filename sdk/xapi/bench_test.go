package xapi

import (
	"bytes"
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
)

// The baselines decode into tagged structs that mirror the statement model,
// the usual way a Go program reads statements. They check neither unknown
// keys (case-insensitively only, in encoding/json) nor any xAPI rule, so
// they are a floor for what strict decoding and validation cost.
type (
	mirrorStatement struct {
		ID          string           `json:"id,omitempty"`
		Actor       *mirrorActor     `json:"actor,omitempty"`
		Verb        *mirrorVerb      `json:"verb,omitempty"`
		Object      map[string]any   `json:"object,omitempty"`
		Result      *mirrorResult    `json:"result,omitempty"`
		Context     *mirrorContext   `json:"context,omitempty"`
		Timestamp   string           `json:"timestamp,omitempty"`
		Stored      string           `json:"stored,omitempty"`
		Authority   *mirrorActor     `json:"authority,omitempty"`
		Version     string           `json:"version,omitempty"`
		Attachments []map[string]any `json:"attachments,omitempty"`
	}
	mirrorActor struct {
		ObjectType  string         `json:"objectType,omitempty"`
		Name        string         `json:"name,omitempty"`
		Mbox        string         `json:"mbox,omitempty"`
		MboxSHA1Sum string         `json:"mbox_sha1sum,omitempty"`
		OpenID      string         `json:"openid,omitempty"`
		Account     *mirrorAccount `json:"account,omitempty"`
		Member      []mirrorActor  `json:"member,omitempty"`
	}
	mirrorAccount struct {
		HomePage string `json:"homePage"`
		Name     string `json:"name"`
	}
	mirrorVerb struct {
		ID      string            `json:"id"`
		Display map[string]string `json:"display,omitempty"`
	}
	mirrorResult struct {
		Score      map[string]float64            `json:"score,omitempty"`
		Success    *bool                         `json:"success,omitempty"`
		Completion *bool                         `json:"completion,omitempty"`
		Response   *string                       `json:"response,omitempty"`
		Duration   string                        `json:"duration,omitempty"`
		Extensions map[string]stdjson.RawMessage `json:"extensions,omitempty"`
	}
	mirrorContext struct {
		Registration      string                        `json:"registration,omitempty"`
		Instructor        *mirrorActor                  `json:"instructor,omitempty"`
		Team              *mirrorActor                  `json:"team,omitempty"`
		ContextActivities map[string][]map[string]any   `json:"contextActivities,omitempty"`
		Revision          string                        `json:"revision,omitempty"`
		Platform          string                        `json:"platform,omitempty"`
		Language          string                        `json:"language,omitempty"`
		Statement         map[string]any                `json:"statement,omitempty"`
		Extensions        map[string]stdjson.RawMessage `json:"extensions,omitempty"`
	}
)

// benchInputs returns n statements cycling through the round-trip fixtures,
// each with a distinct id.
func benchInputs(b *testing.B, n int) [][]byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "roundtrip", "*.json"))
	var base [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var compact bytes.Buffer
		if err := stdjson.Compact(&compact, data); err != nil {
			b.Fatal(err)
		}
		base = append(base, compact.Bytes())
	}
	if len(base) == 0 {
		b.Fatal("no fixtures")
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = base[i%len(base)]
	}
	return out
}

// BenchmarkCodec measures decode, validate and encode of batches of 1 and
// 100 statements with lrsbridge's strict codec, against decode and encode
// (no validation) with encoding/json and github.com/goccy/go-json in the same
// run.
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{1, 100} {
		inputs := benchInputs(b, n)
		var size int64
		for _, in := range inputs {
			size += int64(len(in))
		}
		run := func(name string, f func(b *testing.B, in []byte, out []byte) []byte) {
			b.Run(name+"/batch="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				buf := make([]byte, 0, 4096)
				for b.Loop() {
					for _, in := range inputs {
						buf = f(b, in, buf[:0])
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "statements/s")
			})
		}
		run("lrsbridge", func(b *testing.B, in, out []byte) []byte {
			st, probs := Check(in, V200)
			if len(probs) > 0 {
				b.Fatal(probs)
			}
			out, err := Append(out, st, V200)
			if err != nil {
				b.Fatal(err)
			}
			return out
		})
		run("encoding-json", func(b *testing.B, in, out []byte) []byte {
			var st mirrorStatement
			if err := stdjson.Unmarshal(in, &st); err != nil {
				b.Fatal(err)
			}
			data, err := stdjson.Marshal(&st)
			if err != nil {
				b.Fatal(err)
			}
			return append(out, data...)
		})
		run("goccy-go-json", func(b *testing.B, in, out []byte) []byte {
			var st mirrorStatement
			if err := gojson.Unmarshal(in, &st); err != nil {
				b.Fatal(err)
			}
			data, err := gojson.Marshal(&st)
			if err != nil {
				b.Fatal(err)
			}
			return append(out, data...)
		})
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
					st, probs := Check(in, V200)
					if len(probs) > 0 {
						b.Fatal(probs)
					}
					var err error
					if buf, err = Append(buf[:0], st, V200); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				for _, in := range inputs {
					var st mirrorStatement
					if err := stdjson.Unmarshal(in, &st); err != nil {
						b.Fatal(err)
					}
					data, err := stdjson.Marshal(&st)
					if err != nil {
						b.Fatal(err)
					}
					buf = append(buf[:0], data...)
				}
				ours, std = ours+t1.Sub(t0), std+time.Since(t1)
			}
			b.ReportMetric(float64(b.N*n)/ours.Seconds(), "lrsbridge-statements/s")
			b.ReportMetric(float64(b.N*n)/std.Seconds(), "encoding-json-statements/s")
			b.ReportMetric(std.Seconds()/ours.Seconds(), "x-encoding-json")
		})
	}
}
