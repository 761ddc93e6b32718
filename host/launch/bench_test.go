package launch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// BenchmarkPostStatements measures statements POSTed to the launch
// endpoint per second, in batches of 1 and 10, each answered only once the
// statements are durable (host queue and launch store synced, the
// defaults), against a plain handler that only decodes the same bodies,
// in the same run.
func BenchmarkPostStatements(b *testing.B) {
	for _, batch := range []int{1, 10} {
		b.Run(fmt.Sprintf("batch=%d/launch", batch), func(b *testing.B) {
			e := newEnv(b, envOptions{sync: "always"})
			l := newLaunch(b, e, launch.Request{})
			benchPost(b, l.Endpoint, l.Authorization, l.Actor, l.ActivityID, batch)
		})
		b.Run(fmt.Sprintf("batch=%d/decode-only", batch), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v []json.RawMessage
				if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				ids := make([]string, len(v))
				for i, raw := range v {
					var st struct {
						ID string `json:"id"`
					}
					_ = json.Unmarshal(raw, &st)
					ids[i] = st.ID
				}
				_ = json.NewEncoder(w).Encode(ids)
			}))
			b.Cleanup(srv.Close)
			benchPost(b, srv.URL+"/xapi/", "", `{"objectType":"Agent","mbox":"mailto:a@example.com"}`, "http://example.com/a", batch)
		})
	}
}

func benchPost(b *testing.B, endpoint, auth, actor, activity string, batch int) {
	bodies := make([][]byte, 64)
	for i := range bodies {
		sts := make([]string, batch)
		for j := range sts {
			sts[j] = storylineStatement(xapi.NewUUID(), actor, activity, "experienced")
		}
		bodies[i] = []byte("[" + strings.Join(sts, ",") + "]")
	}
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := bodies[i%len(bodies)]
		if i >= len(bodies) {
			body = freshIDs(body) // every request stores new statements
		}
		req, _ := http.NewRequest("POST", endpoint+"statements", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Experience-API-Version", "1.0.3")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "statements/s")
}

// freshIDs gives every statement of a body a new random id.
func freshIDs(body []byte) []byte {
	var list []map[string]json.RawMessage
	_ = json.Unmarshal(body, &list)
	for _, m := range list {
		m["id"], _ = json.Marshal(xapi.NewUUID())
	}
	out, _ := json.Marshal(list)
	return out
}

// BenchmarkState measures the latency of a bookmark PUT followed by a GET
// on the launch endpoint (store synced), as p50 and p99.
func BenchmarkState(b *testing.B) {
	e := newEnv(b, envOptions{sync: "always"})
	l := newLaunch(b, e, launch.Request{})
	path := l.Endpoint + "activities/state?activityId=" + url.QueryEscape(l.ActivityID) + "&agent=" + url.QueryEscape(l.Actor) + "&registration=" + l.Registration + "&stateId=bookmark"
	client := &http.Client{}
	send := func(method string, body string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, path, rd)
		req.Header.Set("X-Experience-API-Version", "1.0.3")
		req.Header.Set("Authorization", l.Authorization)
		if body != "" {
			req.Header.Set("Content-Type", "text/plain")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			b.Fatalf("%s state: %d", method, resp.StatusCode)
		}
	}
	var puts, gets []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		send("PUT", fmt.Sprintf("slide-%d", i))
		t1 := time.Now()
		send("GET", "")
		puts, gets = append(puts, t1.Sub(t0)), append(gets, time.Since(t1))
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"put", puts}, {"get", gets}} {
		slices.Sort(m.d)
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(m.d[len(m.d)*99/100].Microseconds()), m.name+"-p99-µs")
	}
}

// BenchmarkStoreMemory measures the heap the launch store keeps per
// statement content sent (Storyline-sized statements, 100 per request),
// the figure to size Config.KeepStatements by: heap-B/stmt is the live
// heap after a collection, per statement stored, once the host delivered
// them. Run with -benchtime=20000x (b.N statements).
func BenchmarkStoreMemory(b *testing.B) {
	e := newEnv(b, envOptions{})
	l := newLaunch(b, e, launch.Request{})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += 100 {
		sts := make([]string, min(100, b.N-sent))
		for j := range sts {
			sts[j] = storylineStatement(xapi.NewUUID(), l.Actor, l.ActivityID, "experienced")
		}
		mustStatus(b, l.Endpoint, call{method: "POST", path: "statements", body: "[" + strings.Join(sts, ",") + "]", auth: l.Authorization}, 200)
	}
	b.StopTimer()
	_ = e.delivered(b) // the host's queue empty
	b.ReportMetric(float64(int64(heap())-int64(before))/float64(b.N), "heap-B/stmt")
}
