package lrs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

const benchBatch = 100

// benchStatements returns batch n of benchBatch valid statements with ids
// unique across batches, marked as checked by the host for xAPI version
// encodedFor ("" for unmarked).
func benchStatements(n int, encodedFor xapi.Version) []sdk.Statement {
	out := make([]sdk.Statement, benchBatch)
	for i := range out {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n*benchBatch+i)
		out[i] = sdk.Statement{ID: id, JSON: []byte(`{"id":"` + id + `","actor":{"objectType":"Agent","account":{"homePage":"https://learningflow.example","name":"u` + strconv.Itoa(i) + `"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},"object":{"objectType":"Activity","id":"https://learningflow.example/courses/1"},"timestamp":"2026-01-02T03:04:05.000Z"}`), EncodedFor: encodedFor}
	}
	return out
}

// minimalLRS answers a POST of statements with their ids, the least work an
// LRS can do, so that client overhead shows.
func minimalLRS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sts []struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&sts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ids := make([]string, len(sts))
		for i, s := range sts {
			ids[i] = s.ID
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ids)
	})
}

// BenchmarkDeliver compares the sink's Deliver with a plain net/http client
// posting the same batches of 100 statements to the same loopback LRS, one
// request at a time (one connection). "lrstest" is the conformant in-memory
// LRS (it validates and stores every statement); "minimal" only echoes the
// ids. "sink" gets the statements marked as encoded for the LRS's version,
// as the host sends them; "sink-unmarked" gets them unmarked, as an older
// host sends them, and checks each itself.
func BenchmarkDeliver(b *testing.B) {
	servers := []struct {
		name    string
		handler func() http.Handler
	}{
		{"lrstest", func() http.Handler {
			return lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret}}})
		}},
		{"minimal", minimalLRS},
	}
	sinks := []struct {
		name       string
		encodedFor xapi.Version
	}{
		{"sink", xapi.V103},
		{"sink-unmarked", ""},
	}
	for _, srvCase := range servers {
		for _, sinkCase := range sinks {
			b.Run(srvCase.name+"/"+sinkCase.name, func(b *testing.B) {
				benchDeliverSink(b, srvCase.handler(), sinkCase.encodedFor)
			})
		}
		b.Run(srvCase.name+"/plain", func(b *testing.B) {

			srv := httptest.NewServer(srvCase.handler())
			defer srv.Close()
			client := &http.Client{}
			url := srv.URL + "/xapi/statements"
			b.ReportAllocs()
			b.ResetTimer()
			defer cpuPerOp(b)()
			for n := range b.N {
				sts := benchStatements(n, "")
				var buf bytes.Buffer
				buf.WriteByte('[')
				for i, st := range sts {
					if i > 0 {
						buf.WriteByte(',')
					}
					buf.Write(st.JSON)
				}
				buf.WriteByte(']')
				req, err := http.NewRequest(http.MethodPost, url, &buf)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("X-Experience-API-Version", "1.0.3")
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth(testKey, testSecret)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
				}
				var ids []string
				if err := json.Unmarshal(body, &ids); err != nil || len(ids) != len(sts) {
					b.Fatalf("ids %v, %v", ids, err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "statements/s")
		})
	}
}

// cpuPerOp reports the process's CPU time (user and system, client and
// loopback server together) per iteration as cpu-µs/op: unlike the wall
// time it does not count waiting for a busy machine. Call the returned
// function when the loop is done.
func cpuPerOp(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		if end, ok2 := processCPU(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64((end-start).Microseconds())/float64(b.N), "cpu-µs/op")
		}
	}
}

// benchDeliverSink delivers batches of statements marked with encodedFor
// through a sink for an xAPI 1.0.3 LRS served by handler.
func benchDeliverSink(b *testing.B, handler http.Handler, encodedFor xapi.Version) {
	srv := httptest.NewServer(handler)
	defer srv.Close()
	s := newTestSink(b, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b)()
	for n := range b.N {
		resp, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: benchStatements(n, encodedFor)})
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range resp.Verdicts {
			if v.Err != nil {
				b.Fatal(v.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "statements/s")
}

// BenchmarkDeliverVersionMark alternates, batch by batch, between batches
// of 100 statements marked as encoded for the LRS's version (as the host
// sends them) and unmarked batches (as an older host sends them, which the
// sink scans itself), to the same minimal loopback LRS, and reports the
// process's CPU time per batch of each kind and their ratio. Alternating
// gives both the same share of a busy machine.
func BenchmarkDeliverVersionMark(b *testing.B) {
	srv := httptest.NewServer(minimalLRS())
	defer srv.Close()
	s := newTestSink(b, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)
	ctx := context.Background()
	var cpu [2]time.Duration
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i, v := range []xapi.Version{xapi.V103, ""} {
			start, ok := processCPU()
			resp, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: benchStatements(n, v)})
			end, ok2 := processCPU()
			n++
			if err != nil {
				b.Fatal(err)
			}
			for _, vd := range resp.Verdicts {
				if vd.Err != nil {
					b.Fatal(vd.Err)
				}
			}
			if !ok || !ok2 {
				b.Skip("the process's CPU time is not known on this system")
			}
			cpu[i] += end - start
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(cpu[0]), "marked-cpu-µs/batch")
	b.ReportMetric(per(cpu[1]), "unmarked-cpu-µs/batch")
	if cpu[1] > 0 {
		b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "marked/unmarked")
	}
}
