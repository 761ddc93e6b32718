package lrstest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

const (
	key    = "k"
	secret = "s"
)

func id(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func statement(i int, name string) string {
	return `{"id":"` + id(i) + `","actor":{"objectType":"Agent","account":{"homePage":"https://learningflow.example","name":"` + name + `"}},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},` +
		`"object":{"objectType":"Activity","id":"https://learningflow.example/courses/1"}}`
}

const invalid = `{"actor":{"objectType":"Agent","account":{"homePage":"https://learningflow.example","name":"x"}},"object":{"objectType":"Activity","id":"https://learningflow.example/courses/1"}}`

// call is one request to the LRS.
type call struct {
	method, path, body string
	version            string // "-" for none
	key, secret        string // "-" key for no credentials
}

type answer struct {
	Status int
	Body   string // checked when wantBody is set
}

func do(t *testing.T, srv *httptest.Server, c call) (answer, http.Header) {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	switch c.version {
	case "-":
	case "":
		req.Header.Set("X-Experience-API-Version", "1.0.3")
	default:
		req.Header.Set("X-Experience-API-Version", c.version)
	}
	switch c.key {
	case "-":
	case "":
		req.SetBasicAuth(key, secret)
	default:
		req.SetBasicAuth(c.key, c.secret)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}, resp.Header
}

func TestLRS(t *testing.T) {
	t.Parallel()
	creds := []lrstest.Credential{
		{Key: key, Secret: secret},
		{Key: "ro", Secret: "ro", Access: lrstest.ReadOnly},
		{Key: "wo", Secret: "wo", Access: lrstest.WriteOnly},
	}
	tests := []struct {
		name  string
		opts  lrstest.Options
		calls []call
		want  []int // statuses
		// wantBodies, when set, are compared with the answers' bodies
		// ("" skips one).
		wantBodies []string
		wantIDs    []string
	}{
		{
			name:       "about without auth or version",
			calls:      []call{{method: "GET", path: "/xapi/about", version: "-", key: "-"}},
			want:       []int{200},
			wantBodies: []string{`{"version":["1.0.3","2.0.0"]}`},
		},
		{
			name:       "about lists configured versions, 1.0.x patches to a 1.0.x client",
			opts:       lrstest.Options{Versions: []string{"1.0.3"}},
			calls:      []call{{method: "GET", path: "/xapi/about", version: "2.0.0"}, {method: "GET", path: "/xapi/about"}},
			want:       []int{200, 200},
			wantBodies: []string{`{"version":["1.0.3"]}`, `{"version":["1.0.0","1.0.1","1.0.2","1.0.3"]}`},
		},
		{
			name:       "post array",
			calls:      []call{{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + statement(2, "b") + "]"}},
			want:       []int{200},
			wantBodies: []string{`["` + id(1) + `","` + id(2) + `"]`},
			wantIDs:    []string{id(1), id(2)},
		},
		{
			name:       "post single",
			calls:      []call{{method: "POST", path: "/xapi/statements", body: statement(1, "a")}},
			want:       []int{200},
			wantBodies: []string{`["` + id(1) + `"]`},
			wantIDs:    []string{id(1)},
		},
		{
			name:    "missing version header",
			calls:   []call{{method: "POST", path: "/xapi/statements", body: statement(1, "a"), version: "-"}},
			want:    []int{400},
			wantIDs: nil,
		},
		{
			name:  "unsupported version header",
			opts:  lrstest.Options{Versions: []string{"1.0.3"}},
			calls: []call{{method: "POST", path: "/xapi/statements", body: statement(1, "a"), version: "2.0.0"}},
			want:  []int{400},
		},
		{
			name:    "older 1.0 patch accepted",
			calls:   []call{{method: "POST", path: "/xapi/statements", body: statement(1, "a"), version: "1.0.1"}},
			want:    []int{200},
			wantIDs: []string{id(1)},
		},
		{
			name:  "no credentials",
			calls: []call{{method: "POST", path: "/xapi/statements", body: statement(1, "a"), key: "-"}},
			want:  []int{401},
		},
		{
			name:  "wrong secret",
			calls: []call{{method: "GET", path: "/xapi/statements", key: key, secret: "nope"}},
			want:  []int{401},
		},
		{
			name: "read-only and write-only",
			calls: []call{
				{method: "POST", path: "/xapi/statements", body: statement(1, "a"), key: "ro", secret: "ro"},
				{method: "GET", path: "/xapi/statements", key: "wo", secret: "wo"},
				{method: "POST", path: "/xapi/statements", body: statement(1, "a"), key: "wo", secret: "wo"},
				{method: "GET", path: "/xapi/statements?limit=1", key: "ro", secret: "ro"},
			},
			want:    []int{403, 403, 200, 200},
			wantIDs: []string{id(1)},
		},
		{
			name:       "one invalid statement rejects the whole batch",
			calls:      []call{{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + invalid + "]"}},
			want:       []int{400},
			wantBodies: []string{""},
		},
		{
			name:  "duplicate ids in a batch",
			calls: []call{{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + statement(1, "a") + "]"}},
			want:  []int{400},
		},
		{
			name: "identical resend accepted",
			calls: []call{
				{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
				{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + statement(2, "b") + "]"},
			},
			want:    []int{200, 200},
			wantIDs: []string{id(1), id(2)},
		},
		{
			name: "identical resend with conflict policy",
			opts: lrstest.Options{Resend: lrstest.ResendConflict},
			calls: []call{
				{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
				{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + statement(2, "b") + "]"},
			},
			want:    []int{200, 409},
			wantIDs: []string{id(1)},
		},
		{
			name: "differing resend conflicts",
			calls: []call{
				{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
				{method: "POST", path: "/xapi/statements", body: statement(1, "changed")},
				{method: "PUT", path: "/xapi/statements?statementId=" + id(1), body: statement(1, "changed")},
			},
			want:    []int{200, 409, 409},
			wantIDs: []string{id(1)},
		},
		{
			name:    "413 above the body size",
			opts:    lrstest.Options{MaxBodyBytes: 400},
			calls:   []call{{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + statement(2, "b") + "]"}, {method: "POST", path: "/xapi/statements", body: statement(3, "c")}},
			want:    []int{413, 200},
			wantIDs: []string{id(3)},
		},
		{
			name:    "413 above the statement count",
			opts:    lrstest.Options{MaxStatements: 1},
			calls:   []call{{method: "POST", path: "/xapi/statements", body: "[" + statement(1, "a") + "," + statement(2, "b") + "]"}},
			want:    []int{413},
			wantIDs: nil,
		},
		{
			name: "put",
			calls: []call{
				{method: "PUT", path: "/xapi/statements?statementId=" + id(1), body: statement(1, "a")},
				{method: "PUT", path: "/xapi/statements?statementId=" + id(1), body: statement(1, "a")},
				{method: "PUT", path: "/xapi/statements?statementId=" + id(2), body: statement(1, "a")},
				{method: "PUT", path: "/xapi/statements", body: statement(1, "a")},
			},
			want:    []int{204, 204, 400, 400},
			wantIDs: []string{id(1)},
		},
		{
			name:  "wrong path",
			calls: []call{{method: "GET", path: "/lms/about"}, {method: "GET", path: "/xapi/activity"}},
			want:  []int{404, 404},
		},
		{
			name: "get by id",
			calls: []call{
				{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
				{method: "GET", path: "/xapi/statements?statementId=" + id(9)},
			},
			want:    []int{200, 404},
			wantIDs: []string{id(1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.Credentials == nil {
				tt.opts.Credentials = creds
			}
			l := lrstest.New(tt.opts)
			srv := httptest.NewServer(l)
			t.Cleanup(srv.Close)
			var got []int
			var bodies []string
			for _, c := range tt.calls {
				a, h := do(t, srv, c)
				got = append(got, a.Status)
				bodies = append(bodies, a.Body)
				if h.Get("X-Experience-API-Consistent-Through") == "" || h.Get("X-Experience-API-Version") == "" {
					t.Errorf("%s %s: missing xAPI headers: %v", c.method, c.path, h)
				}
				if a.Status >= 400 {
					var m struct{ Message string }
					if err := json.Unmarshal([]byte(a.Body), &m); err != nil || m.Message == "" {
						t.Errorf("%s %s: error body %q has no message", c.method, c.path, a.Body)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s\nbodies: %q", diff, bodies)
			}
			for i, want := range tt.wantBodies {
				if want != "" && want != bodies[i] {
					t.Errorf("body %d = %s, want %s", i, bodies[i], want)
				}
			}
			if diff := cmp.Diff(tt.wantIDs, l.IDs(), cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); diff != "" {
				t.Errorf("stored ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLRSStoredProperties(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: key, Secret: secret}}, Now: func() time.Time { return now }})
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	do(t, srv, call{method: "POST", path: "/xapi/statements", body: statement(1, "a"), version: "2.0.0"})
	a, _ := do(t, srv, call{method: "GET", path: "/xapi/statements?statementId=" + id(1)})
	var got struct {
		ID        string
		Stored    string
		Version   string
		Authority struct {
			ObjectType string
			Account    struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(a.Body), &got); err != nil {
		t.Fatal(err)
	}
	want := got
	want.ID, want.Stored, want.Version = id(1), "2026-03-04T05:06:07.008Z", "2.0.0"
	want.Authority.ObjectType, want.Authority.Account.Name = "Agent", key
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored statement (-want +got):\n%s", diff)
	}
}

func TestLRSQuery(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	l := lrstest.New(lrstest.Options{PageSize: 2, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}})
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	for i := range 5 {
		do(t, srv, call{method: "POST", path: "/xapi/statements", body: statement(i, "a")})
	}
	type page struct {
		Statements []struct{ ID string }
		More       string
	}
	read := func(path string) page {
		a, _ := do(t, srv, call{method: "GET", path: path})
		var p page
		if err := json.Unmarshal([]byte(a.Body), &p); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, a.Body)
		}
		return p
	}
	var got []string
	path := "/xapi/statements?ascending=true"
	for path != "" {
		p := read(path)
		for _, s := range p.Statements {
			got = append(got, s.ID)
		}
		path = p.More
	}
	if diff := cmp.Diff([]string{id(0), id(1), id(2), id(3), id(4)}, got); diff != "" {
		t.Errorf("paged ascending (-want +got):\n%s", diff)
	}
	p := read("/xapi/statements?limit=1")
	if len(p.Statements) != 1 || p.Statements[0].ID != id(4) || p.More == "" {
		t.Errorf("limit=1 newest first = %+v, want statement 4 and a more link", p)
	}
	// Every Now call ticks a second and each POST calls it twice (the
	// consistency header, then stored): statements are stored at 00:00:02,
	// 04, 06, 08 and 10. since is exclusive.
	// The page size (2) caps limit=10; more leads to the rest.
	var since []string
	for path := "/xapi/statements?ascending=true&limit=10&since=2026-01-01T00:00:04Z"; path != ""; {
		p := read(path)
		for _, s := range p.Statements {
			since = append(since, s.ID)
		}
		path = p.More
	}
	if diff := cmp.Diff([]string{id(2), id(3), id(4)}, since); diff != "" {
		t.Errorf("since filter (-want +got):\n%s", diff)
	}
}

func TestLRSFaults(t *testing.T) {
	t.Parallel()
	l := lrstest.New(lrstest.Options{})
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	l.Fail(lrstest.Fault{Status: 503, RetryAfter: "5", Times: 2, Resource: "statements"})
	l.Fail(lrstest.Fault{Status: 429, RetryAfter: "Wed, 21 Oct 2026 07:28:00 GMT", Method: "POST"})
	// The first about request (below) passes the skip; the next one fails.
	l.Fail(lrstest.Fault{Status: 500, Skip: 1, Resource: "about"})
	var got []string
	for _, c := range []call{
		{method: "GET", path: "/xapi/about"},
		{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
		{method: "GET", path: "/xapi/statements"},
		{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
		{method: "POST", path: "/xapi/statements", body: statement(1, "a")},
		{method: "GET", path: "/xapi/about"},
		{method: "GET", path: "/xapi/about"},
	} {
		a, h := do(t, srv, c)
		got = append(got, fmt.Sprintf("%d %s", a.Status, h.Get("Retry-After")))
	}
	want := []string{"200 ", "503 5", "503 5", "429 Wed, 21 Oct 2026 07:28:00 GMT", "200 ", "500 ", "200 "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	var statuses []int
	for _, r := range l.Requests() {
		statuses = append(statuses, r.Status)
	}
	if diff := cmp.Diff([]int{200, 503, 503, 429, 200, 500, 200}, statuses); diff != "" {
		t.Errorf("recorded statuses (-want +got):\n%s", diff)
	}
}

func TestLRSConcurrent(t *testing.T) {
	t.Parallel()
	l := lrstest.New(lrstest.Options{})
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				req, _ := http.NewRequest("POST", srv.URL+"/xapi/statements", strings.NewReader(statement(g*100+i, "a")))
				req.Header.Set("X-Experience-API-Version", "1.0.3")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if got := l.Len(); got != 40 {
		t.Errorf("Len() = %d, want 40", got)
	}
	l.Reset()
	if got, reqs := l.Len(), len(l.Requests()); got != 0 || reqs != 0 {
		t.Errorf("after Reset: Len() = %d, %d requests; want none", got, reqs)
	}
}
