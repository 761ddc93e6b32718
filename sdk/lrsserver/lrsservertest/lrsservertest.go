// Package lrsservertest is a conformance kit for xAPI endpoints built on
// package lrsserver: Run sends table-driven requests per resource and per
// specification rule (status codes, headers, concurrency, merge, filters,
// paging, voiding, alternate syntax, CORS, versions) to a live endpoint and
// checks the answers. lrsbridge runs it against the development LRS, the
// test LRS of the lrs sink and the launch endpoint of the host.
package lrsservertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"crypto/sha256"
	"encoding/hex"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Target is an endpoint under test.
type Target struct {
	// Endpoint is the xAPI endpoint URL, ending in "/".
	Endpoint string
	// Authorization is the Authorization header value to send; empty
	// sends none.
	Authorization string
	// Client sends the requests; when nil, a client of the subtest's own.
	Client *http.Client
	// Agent is the JSON of the agent statements and documents name.
	Agent string
	// Registration is the registration statements and state use; a fresh
	// one when empty.
	Registration string
	// ActivityID is the activity statements and state use; a fresh one
	// when empty.
	ActivityID string
	// Restricted is true for a launch credential: voiding is refused
	// (403), activity profiles are read-only, attachments need fileUrl.
	Restricted bool
}

// Run runs the kit. newTarget is called once per subtest and returns an
// endpoint whose data the subtest may change; subtests run in parallel.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	versions := []string{"1.0.3", "2.0.0"}
	runCase := func(t *testing.T, c testCase, version string) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t)
			k := &kit{t: t, tg: tg, reg: tg.Registration, act: tg.ActivityID, version: version}
			if k.reg == "" {
				k.reg = xapi.NewUUID()
			}
			if k.act == "" {
				k.act = "http://example.com/activities/" + xapi.NewUUID()
			}
			if tg.Client == nil {
				// A transport of its own: test servers closing in other
				// subtests close http.DefaultTransport's idle
				// connections, which fails a request that was about to
				// reuse one.
				tr := &http.Transport{}
				t.Cleanup(tr.CloseIdleConnections)
				k.tg.Client = &http.Client{Transport: tr}
			}
			c.run(k)
		})
	}
	for _, c := range cases {
		runCase(t, c, "1.0.3")
	}
	// The cases that follow the specification's requirements section by
	// section run once per version.
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			for _, c := range suiteCases {
				runCase(t, c, v)
			}
		})
	}
}

type kit struct {
	t   *testing.T
	tg  Target
	reg string
	act string
	// version is sent by requests that name none.
	version string
}

// req is one request of a case.
type req struct {
	method, path string // path relative to the endpoint, with query
	body         string
	ct           string
	version      string // "" sends the kit's version; "-" sends none
	header       map[string]string
	noAuth       bool
}

// resp is an answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (k *kit) do(r req) resp {
	k.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, k.tg.Endpoint+r.path, body)
	if err != nil {
		k.t.Fatal(err)
	}
	switch r.version {
	case "":
		hr.Header.Set("X-Experience-API-Version", k.version)
	case "-":
	default:
		hr.Header.Set("X-Experience-API-Version", r.version)
	}
	if r.body != "" {
		ct := r.ct
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if k.tg.Authorization != "" && !r.noAuth {
		hr.Header.Set("Authorization", k.tg.Authorization)
	}
	for n, v := range r.header {
		hr.Header.Set(n, v)
	}
	hresp, err := k.tg.Client.Do(hr)
	if err != nil {
		k.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(hresp.Body)
	if err != nil {
		k.t.Fatalf("%s %s: reading the answer: %v", r.method, r.path, err)
	}
	return resp{status: hresp.StatusCode, header: hresp.Header, body: b}
}

// expect sends r and checks the status.
func (k *kit) expect(r req, status int) resp {
	k.t.Helper()
	a := k.do(r)
	if a.status != status {
		k.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, a.status, status, a.body)
	}
	if a.status >= 400 && a.status != 404 && a.status != 412 && a.status != 409 && a.status != 401 {
		var m struct{ Message string }
		if json.Unmarshal(a.body, &m) != nil || m.Message == "" {
			k.t.Errorf("%s %s: error answer %s has no message", r.method, r.path, a.body)
		}
	}
	return a
}

// statement returns a statement of the target's agent with verb and
// extra top-level JSON (",..." or "").
func (k *kit) statement(id, verb, extra string) string {
	idPart := ""
	if id != "" {
		idPart = `"id":"` + id + `",`
	}
	return `{` + idPart + `"actor":` + k.tg.Agent + `,"verb":{"id":"` + verb + `","display":{"en-US":"did","fr":"a fait"}},` +
		`"object":{"id":"` + k.act + `","definition":{"name":{"en-US":"Lesson"},"type":"http://adlnet.gov/expapi/activities/lesson"}},` +
		`"context":{"registration":"` + k.reg + `","contextActivities":{"parent":{"id":"http://example.com/course"}}}` + extra + `}`
}

const (
	verbDone  = "http://adlnet.gov/expapi/verbs/completed"
	verbTried = "http://adlnet.gov/expapi/verbs/attempted"
)

func (k *kit) agentQ() string { return url.QueryEscape(k.tg.Agent) }
func (k *kit) stateQ(id string) string {
	q := "activities/state?activityId=" + url.QueryEscape(k.act) + "&agent=" + k.agentQ() + "&registration=" + k.reg
	if id != "" {
		q += "&stateId=" + url.QueryEscape(id)
	}
	return q
}

func decode[T any](k *kit, b []byte) T {
	k.t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		k.t.Fatalf("answer %s: %v", b, err)
	}
	return v
}

// result is a statements query answer.
type result struct {
	Statements []map[string]json.RawMessage `json:"statements"`
	More       string                       `json:"more"`
}

func (r result) ids() []string {
	out := []string{}
	for _, s := range r.Statements {
		var id string
		_ = json.Unmarshal(s["id"], &id)
		out = append(out, id)
	}
	return out
}

// follow resolves a more IRL against the endpoint's origin.
func (k *kit) follow(more string) string {
	u, err := url.Parse(k.tg.Endpoint)
	if err != nil {
		k.t.Fatal(err)
	}
	m, err := u.Parse(more)
	if err != nil {
		k.t.Fatalf("more %q: %v", more, err)
	}
	return strings.TrimPrefix(m.String(), k.tg.Endpoint)
}

func (k *kit) post(sts ...string) []string {
	k.t.Helper()
	a := k.expect(req{method: "POST", path: "statements", body: "[" + strings.Join(sts, ",") + "]"}, 200)
	return decode[[]string](k, a.body)
}

func sameList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

type testCase struct {
	name string
	run  func(k *kit)
}

var cases = []testCase{
	{"about", func(k *kit) {
		a := k.expect(req{method: "GET", path: "about", version: "-", noAuth: true}, 200)
		v := decode[struct{ Version []string }](k, a.body)
		if len(v.Version) == 0 {
			k.t.Errorf("about lists no version: %s", a.body)
		}
		k.expect(req{method: "DELETE", path: "about"}, 405)
		allowed := map[string]bool{"1.0.0": true, "1.0.1": true, "1.0.2": true, "1.0.3": true, "2.0.0": true}
		for _, hv := range []string{"1.0.3", "2.0.0"} {
			a := k.expect(req{method: "GET", path: "about", version: hv, noAuth: true}, 200)
			v := decode[struct{ Version []string }](k, a.body)
			for _, x := range v.Version {
				if !allowed[x] || (hv == "1.0.3" && !strings.HasPrefix(x, "1.0.")) {
					k.t.Errorf("about to a %s client lists %q: %s", hv, x, a.body)
				}
			}
			if hv == "1.0.3" && len(v.Version) > 0 && !contains(v.Version, "1.0.1") {
				k.t.Errorf("about to a 1.0.3 client = %s, want every 1.0.x patch", a.body)
			}
		}
		a = k.expect(req{method: "HEAD", path: "about", version: "-", noAuth: true}, 200)
		if len(a.body) != 0 {
			k.t.Errorf("HEAD about has a body: %s", a.body)
		}
	}},
	{"version header rules", func(k *kit) {
		k.expect(req{method: "GET", path: "statements", version: "-"}, 400)
		k.expect(req{method: "GET", path: "statements", version: "0.95"}, 400)
		for _, v := range []string{"1.0", "1.0.0", "1.0.1", "1.0.3"} {
			a := k.expect(req{method: "GET", path: "statements", version: v}, 200)
			if got := a.header.Get("X-Experience-API-Version"); got != "1.0.3" {
				k.t.Errorf("request version %s: response version %q, want 1.0.3", v, got)
			}
		}
		var a resp
		for _, v := range []string{"2.0", "2.0.0", "2.0.1"} {
			a = k.expect(req{method: "GET", path: "statements", version: v}, 200)
			if got := a.header.Get("X-Experience-API-Version"); got != "2.0.0" {
				k.t.Errorf("request version %s: response version %q, want 2.0.0", v, got)
			}
		}
		k.expect(req{method: "GET", path: "statements", version: "2.1.0"}, 400)
		if a.header.Get("X-Experience-API-Consistent-Through") == "" {
			k.t.Error("no X-Experience-API-Consistent-Through header")
		}
	}},
	{"authentication", func(k *kit) {
		if k.tg.Authorization == "" {
			k.t.Skip("the target needs no credentials")
		}
		k.expect(req{method: "GET", path: "statements", noAuth: true}, 401)
		k.expect(req{method: "GET", path: "statements", noAuth: true, header: map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}}, 401)
	}},
	{"statements POST and PUT", func(k *kit) {
		id1, id2 := xapi.NewUUID(), xapi.NewUUID()
		ids := k.post(k.statement(id1, verbDone, ""), k.statement(id2, verbTried, ""))
		if !sameList(ids, []string{id1, id2}) {
			k.t.Errorf("POST answered ids %v, want %v", ids, []string{id1, id2})
		}
		a := k.expect(req{method: "POST", path: "statements", body: k.statement("", verbDone, "")}, 200)
		if got := decode[[]string](k, a.body); len(got) != 1 || !xapi.IsUUID(got[0]) {
			k.t.Errorf("POST without id answered %s, want one assigned UUID", a.body)
		}
		id3 := xapi.NewUUID()
		k.expect(req{method: "PUT", path: "statements?statementId=" + id3, body: k.statement(id3, verbDone, "")}, 204)
		id4 := xapi.NewUUID()
		k.expect(req{method: "PUT", path: "statements?statementId=" + id4, body: k.statement("", verbDone, "")}, 204)
		k.expect(req{method: "GET", path: "statements?statementId=" + id4}, 200)
		k.expect(req{method: "PUT", path: "statements?statementId=" + xapi.NewUUID(), body: k.statement(xapi.NewUUID(), verbDone, "")}, 400)
		k.expect(req{method: "PUT", path: "statements", body: k.statement(xapi.NewUUID(), verbDone, "")}, 400)
		k.expect(req{method: "PUT", path: "statements?statementId=nope", body: k.statement("", verbDone, "")}, 400)
		k.expect(req{method: "DELETE", path: "statements"}, 405)
		for _, r := range []req{
			{method: "DELETE", path: "statements?statementId=" + id1, noAuth: true},
			{method: "POST", path: "activities?activityId=" + url.QueryEscape(k.act)},
			{method: "DELETE", path: "agents?agent=" + k.agentQ(), noAuth: true},
			{method: "PATCH", path: k.stateQ("x")},
		} {
			k.expect(r, 405)
		}
	}},
	{"statements resend and conflict", func(k *kit) {
		id := xapi.NewUUID()
		st := k.statement(id, verbDone, "")
		k.post(st)
		k.expect(req{method: "POST", path: "statements", body: st}, 200)
		k.expect(req{method: "PUT", path: "statements?statementId=" + id, body: st}, 204)
		k.expect(req{method: "POST", path: "statements", body: k.statement(id, verbTried, "")}, 409)
		k.expect(req{method: "PUT", path: "statements?statementId=" + id, body: k.statement(id, verbTried, "")}, 409)
	}},
	{"statements bad input stores nothing", func(k *kit) {
		good := xapi.NewUUID()
		bad := []req{
			{method: "POST", path: "statements", body: "[" + k.statement(good, verbDone, "") + `,{"actor":` + k.tg.Agent + `,"verb":{"id":"not an iri"},"object":{"id":"http://example.com/a"}}]`},
			{method: "POST", path: "statements", body: "[" + k.statement(good, verbDone, "") + "," + k.statement(good, verbTried, "") + "]"},
			{method: "POST", path: "statements", body: "[" + k.statement(good, verbDone, ",\"Result\":{}") + "]"},
			{method: "POST", path: "statements", body: `{"actor":`},
			{method: "POST", path: "statements", body: `[]`},
			{method: "POST", path: "statements", body: `"text"`},
			{method: "POST", path: "statements", body: k.statement(good, verbDone, ""), ct: "text/plain"},
			{method: "POST", path: "statements?statementId=" + good, body: k.statement(good, verbDone, "")},
			{method: "POST", path: "statements", body: k.statement(good, verbDone, `,"timestamp":"2026-01-01T00:00:00-00:00"`)},
		}
		for _, r := range bad {
			k.expect(r, 400)
		}
		k.expect(req{method: "GET", path: "statements?statementId=" + good}, 404)
	}},
	{"statements parameters", func(k *kit) {
		id := xapi.NewUUID()
		k.post(k.statement(id, verbDone, ""))
		for _, p := range []string{
			"statements?statementID=" + id,
			"statements?unknown=1",
			"statements?statementId=" + id + "&verb=" + url.QueryEscape(verbDone),
			"statements?statementId=" + id + "&voidedStatementId=" + id,
			"statements?limit=-1",
			"statements?limit=x",
			"statements?format=full",
			"statements?ascending=yes",
			"statements?since=yesterday",
			"statements?agent=" + url.QueryEscape(`{"mbox":"x"}`),
			"statements?verb=nope",
			"statements?registration=nope",
			"statements?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
		} {
			k.expect(req{method: "GET", path: p}, 400)
		}
	}},
	{"statements stored properties", func(k *kit) {
		id := xapi.NewUUID()
		before := time.Now().Add(-time.Minute)
		k.post(k.statement(id, verbDone, ""))
		a := k.expect(req{method: "GET", path: "statements?statementId=" + id}, 200)
		if a.header.Get("Last-Modified") == "" {
			k.t.Error("GET statementId: no Last-Modified header")
		}
		st, err := xapi.Parse(a.body)
		if err != nil {
			k.t.Fatalf("stored statement %s: %v", a.body, err)
		}
		if st.Stored.Before(before) || st.Timestamp.IsZero() || st.Authority == nil || !strings.HasPrefix(st.Version, "1.0.") {
			k.t.Errorf("stored statement lacks stored, timestamp, authority or version 1.0.x: %s", a.body)
		}
		var raw struct {
			Context struct {
				ContextActivities struct {
					Parent json.RawMessage `json:"parent"`
				} `json:"contextActivities"`
			} `json:"context"`
		}
		_ = json.Unmarshal(a.body, &raw)
		if !bytes.HasPrefix(raw.Context.ContextActivities.Parent, []byte("[")) {
			k.t.Errorf("contextActivities.parent returned as %s, want an array", raw.Context.ContextActivities.Parent)
		}
		if !k.tg.Restricted {
			// format=exact returns agents, verbs and activities as sent.
			sent := decode[map[string]json.RawMessage](k, []byte(k.statement(id, verbDone, "")))
			got := decode[map[string]json.RawMessage](k, a.body)
			for _, key := range []string{"actor", "verb", "object"} {
				var w, g any
				_ = json.Unmarshal(sent[key], &w)
				_ = json.Unmarshal(got[key], &g)
				if fmt.Sprint(w) != fmt.Sprint(g) {
					k.t.Errorf("exact %s = %s, sent %s", key, got[key], sent[key])
				}
			}
		}
		a = k.expect(req{method: "GET", path: "statements?statementId=" + id + "&format=ids"}, 200)
		ids := decode[struct {
			Actor, Verb, Object map[string]json.RawMessage
		}](k, a.body)
		if len(ids.Verb) != 1 || len(ids.Object) != 1 || ids.Object["id"] == nil || len(ids.Actor) > 2 {
			k.t.Errorf("format=ids keeps more than the identifiers (verb and activity: id only; agent: objectType and IFI): %s", a.body)
		}
		a = k.expect(req{method: "GET", path: "statements?statementId=" + id + "&format=canonical", header: map[string]string{"Accept-Language": "fr"}}, 200)
		if !bytes.Contains(a.body, []byte(`{"fr":"a fait"}`)) {
			k.t.Errorf("format=canonical with Accept-Language fr: %s", a.body)
		}
		k.expect(req{method: "HEAD", path: "statements?statementId=" + id}, 200)
	}},
	{"statements filters", func(k *kit) {
		idDone, idTried := xapi.NewUUID(), xapi.NewUUID()
		k.post(k.statement(idDone, verbDone, ""), k.statement(idTried, verbTried, ""))
		check := func(q string, want []string) {
			k.t.Helper()
			a := k.expect(req{method: "GET", path: "statements?" + q}, 200)
			got := decode[result](k, a.body).ids()
			for _, w := range want {
				found := false
				for _, g := range got {
					found = found || strings.EqualFold(g, w)
				}
				if !found {
					k.t.Errorf("GET statements?%s: %s missing from %v", q, w, got)
				}
			}
			for _, g := range got {
				if (strings.EqualFold(g, idDone) || strings.EqualFold(g, idTried)) && !contains(want, g) {
					k.t.Errorf("GET statements?%s: %s returned, not wanted", q, g)
				}
			}
		}
		check("verb="+url.QueryEscape(verbDone), []string{idDone})
		check("verb="+url.QueryEscape(verbTried)+"&registration="+k.reg, []string{idTried})
		check("activity="+url.QueryEscape(k.act), []string{idDone, idTried})
		check("activity="+url.QueryEscape("http://example.com/course"), nil)
		check("activity="+url.QueryEscape("http://example.com/course")+"&related_activities=true", []string{idDone, idTried})
		check("agent="+k.agentQ(), []string{idDone, idTried})
		check("registration="+xapi.NewUUID(), nil)
		check("since="+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil)
		check("until="+url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), nil)
	}},
	{"statements paging with more", func(k *kit) {
		var want []string
		var sts []string
		for range 5 {
			id := xapi.NewUUID()
			want = append(want, id)
			sts = append(sts, k.statement(id, verbDone, ""))
		}
		k.post(sts...)
		var got []string
		path := "statements?limit=2&ascending=true&registration=" + k.reg
		for pages := 0; path != ""; pages++ {
			if pages > 5 {
				k.t.Fatal("more keeps going")
			}
			a := k.expect(req{method: "GET", path: path}, 200)
			r := decode[result](k, a.body)
			if len(r.Statements) > 2 {
				k.t.Errorf("page of %d statements with limit=2", len(r.Statements))
			}
			got = append(got, r.ids()...)
			if r.More != "" && (strings.HasPrefix(r.More, "http") || !strings.HasPrefix(r.More, "/")) {
				k.t.Errorf("more %q is not a relative IRL", r.More)
			}
			path = ""
			if r.More != "" {
				path = k.follow(r.More)
			}
		}
		if !sameList(want, got) {
			k.t.Errorf("pages in ascending order = %v, want %v", got, want)
		}
		a := k.expect(req{method: "GET", path: "statements?limit=1&registration=" + k.reg}, 200)
		if r := decode[result](k, a.body); len(r.ids()) != 1 || !strings.EqualFold(r.ids()[0], want[4]) {
			k.t.Errorf("newest first = %v, want %s", r.ids(), want[4])
		}
	}},
	{"voiding", func(k *kit) {
		target, voider := xapi.NewUUID(), xapi.NewUUID()
		k.post(k.statement(target, verbDone, ""))
		void := `{"id":"` + voider + `","actor":` + k.tg.Agent + `,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + target + `"}}`
		if k.tg.Restricted {
			k.expect(req{method: "POST", path: "statements", body: void}, 403)
			k.expect(req{method: "GET", path: "statements?statementId=" + target}, 200)
			return
		}
		k.post(void)
		k.expect(req{method: "GET", path: "statements?statementId=" + target}, 404)
		k.expect(req{method: "GET", path: "statements?voidedStatementId=" + target}, 200)
		k.expect(req{method: "GET", path: "statements?voidedStatementId=" + voider}, 404)
		a := k.expect(req{method: "GET", path: "statements?verb=" + url.QueryEscape(verbDone) + "&activity=" + url.QueryEscape(k.act)}, 200)
		ids := decode[result](k, a.body).ids()
		if contains(ids, target) || !contains(ids, voider) {
			k.t.Errorf("query after voiding = %v, want the voiding statement %s (it targets a match) and not the voided %s", ids, voider, target)
		}
		revoid := `{"actor":` + k.tg.Agent + `,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + voider + `"}}`
		k.expect(req{method: "POST", path: "statements", body: revoid}, 400)
	}},
	{"attachments", func(k *kit) {
		data := []byte("certificate text")
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		id := xapi.NewUUID()
		att := `,"attachments":[{"usageType":"http://id.tincanapi.com/attachment/certificate","display":{"en":"certificate"},"contentType":"text/plain","length":` + fmt.Sprint(len(data)) + `,"sha2":"` + h + `"}]`
		st := k.statement(id, verbDone, att)
		k.expect(req{method: "POST", path: "statements", body: st}, 400)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		ph := textproto.MIMEHeader{}
		ph.Set("Content-Type", "application/json")
		pw, _ := mw.CreatePart(ph)
		_, _ = pw.Write([]byte(st))
		ah := textproto.MIMEHeader{}
		ah.Set("Content-Type", "text/plain")
		ah.Set("Content-Transfer-Encoding", "binary")
		ah.Set("X-Experience-API-Hash", h)
		aw, _ := mw.CreatePart(ah)
		_, _ = aw.Write(data)
		_ = mw.Close()
		ct := "multipart/mixed; boundary=" + mw.Boundary()
		if k.tg.Restricted {
			k.expect(req{method: "POST", path: "statements", body: buf.String(), ct: ct}, 400)
			return
		}
		wrong := strings.Replace(buf.String(), string(data), "forged text here", 1)
		k.expect(req{method: "POST", path: "statements", body: wrong, ct: ct}, 400)
		k.expect(req{method: "POST", path: "statements", body: buf.String(), ct: ct}, 200)
		a := k.expect(req{method: "GET", path: "statements?attachments=true&statementId=" + id}, 200)
		mt, params, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
		if mt != "multipart/mixed" {
			k.t.Fatalf("attachments=true answered %s", a.header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(a.body), params["boundary"])
		var parts [][]byte
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, b)
		}
		if len(parts) != 2 || !bytes.Equal(parts[1], data) {
			k.t.Errorf("attachments=true returned %d parts, want the statement and the data", len(parts))
		}
	}},
	{"state documents", func(k *kit) {
		doc := k.stateQ("bookmark")
		k.expect(req{method: "GET", path: doc}, 404)
		k.expect(req{method: "PUT", path: doc, body: "slide-3", ct: "text/plain"}, 204)
		a := k.expect(req{method: "GET", path: doc}, 200)
		etag := a.header.Get("ETag")
		if string(a.body) != "slide-3" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") || etag == "" || a.header.Get("Last-Modified") == "" {
			k.t.Errorf("GET state = %q %q etag %q, want slide-3 as text/plain with ETag and Last-Modified", a.body, a.header.Get("Content-Type"), etag)
		}
		k.expect(req{method: "PUT", path: doc, body: "x", ct: "text/plain", header: map[string]string{"If-None-Match": "*"}}, 412)
		k.expect(req{method: "PUT", path: doc, body: "x", ct: "text/plain", header: map[string]string{"If-Match": `"0000"`}}, 412)
		k.expect(req{method: "PUT", path: doc, body: "slide-4", ct: "text/plain", header: map[string]string{"If-Match": etag}}, 204)
		k.expect(req{method: "PUT", path: doc, body: "slide-5", ct: "text/plain"}, 204)
		k.expect(req{method: "PUT", path: doc, body: "slide-6", ct: "text/plain", version: "2.0.0"}, 409)
		j := k.stateQ("suspend")
		k.expect(req{method: "POST", path: j, body: `{"a":1,"b":1}`}, 204)
		k.expect(req{method: "POST", path: j, body: `{"b":2,"c":3}`}, 204)
		a = k.expect(req{method: "GET", path: j}, 200)
		if got := decode[map[string]int](k, a.body); got["a"] != 1 || got["b"] != 2 || got["c"] != 3 {
			k.t.Errorf("merged state = %s, want a:1 b:2 c:3", a.body)
		}
		k.expect(req{method: "POST", path: j, body: `[1]`}, 400)
		k.expect(req{method: "POST", path: k.stateQ("scalar"), body: `1`}, 204)
		k.expect(req{method: "GET", path: j + "&since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))}, 200)
		k.expect(req{method: "DELETE", path: k.stateQ("scalar")}, 204)
		k.expect(req{method: "POST", path: doc, body: `{"a":1}`}, 400)
		a = k.expect(req{method: "GET", path: k.stateQ("")}, 200)
		if got := decode[[]string](k, a.body); !sameList(got, []string{"bookmark", "suspend"}) {
			k.t.Errorf("state ids = %v", got)
		}
		a = k.expect(req{method: "GET", path: k.stateQ("") + "&since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))}, 200)
		if got := decode[[]string](k, a.body); len(got) != 0 {
			k.t.Errorf("state ids since the future = %v", got)
		}
		k.expect(req{method: "DELETE", path: doc}, 204)
		k.expect(req{method: "GET", path: doc}, 404)
		k.expect(req{method: "DELETE", path: k.stateQ("")}, 204)
		k.expect(req{method: "GET", path: j}, 404)
		for _, p := range []string{
			"activities/state?activityId=" + url.QueryEscape(k.act) + "&stateId=a",
			"activities/state?agent=" + k.agentQ() + "&stateId=a",
			"activities/state?activityId=" + url.QueryEscape(k.act) + "&agent=%7Bnope&stateId=a",
			"activities/state?activityId=" + url.QueryEscape(k.act) + "&agent=" + k.agentQ() + "&registration=nope&stateId=a",
			k.stateQ("a") + "&StateId=b",
		} {
			k.expect(req{method: "GET", path: p}, 400)
		}
	}},
	{"activity profile", func(k *kit) {
		doc := "activities/profile?activityId=" + url.QueryEscape(k.act) + "&profileId=p1"
		if k.tg.Restricted {
			k.expect(req{method: "PUT", path: doc, body: `{"a":1}`}, 403)
			k.expect(req{method: "GET", path: doc}, 404)
			return
		}
		k.expect(req{method: "PUT", path: doc, body: `{"a":1}`}, 204)
		a := k.expect(req{method: "GET", path: doc}, 200)
		k.expect(req{method: "PUT", path: doc, body: `{"a":2}`}, 409)
		k.expect(req{method: "PUT", path: doc, body: `{"a":2}`, header: map[string]string{"If-Match": a.header.Get("ETag")}}, 204)
		k.expect(req{method: "POST", path: doc, body: `{"b":2}`}, 204)
		a = k.expect(req{method: "GET", path: "activities/profile?activityId=" + url.QueryEscape(k.act)}, 200)
		if got := decode[[]string](k, a.body); !sameList(got, []string{"p1"}) {
			k.t.Errorf("profile ids = %v", got)
		}
		k.expect(req{method: "DELETE", path: "activities/profile?activityId=" + url.QueryEscape(k.act)}, 400)
		k.expect(req{method: "DELETE", path: doc}, 204)
		k.expect(req{method: "GET", path: doc}, 404)
	}},
	{"agent profile", func(k *kit) {
		doc := "agents/profile?agent=" + k.agentQ() + "&profileId=prefs"
		k.expect(req{method: "PUT", path: doc, body: `{"lang":"fr"}`}, 204)
		a := k.expect(req{method: "GET", path: doc}, 200)
		if !bytes.Equal(a.body, []byte(`{"lang":"fr"}`)) {
			k.t.Errorf("agent profile = %s", a.body)
		}
		k.expect(req{method: "PUT", path: doc, body: `{}`}, 409)
		k.expect(req{method: "PUT", path: doc, body: `{}`, header: map[string]string{"If-None-Match": "*"}}, 412)
		k.expect(req{method: "DELETE", path: doc, header: map[string]string{"If-Match": `"nope"`}}, 412)
		k.expect(req{method: "DELETE", path: doc, header: map[string]string{"If-Match": a.header.Get("ETag")}}, 204)
		k.expect(req{method: "GET", path: "agents/profile?profileId=prefs"}, 400)
	}},
	{"activities and agents", func(k *kit) {
		k.post(k.statement(xapi.NewUUID(), verbDone, ""))
		a := k.expect(req{method: "GET", path: "activities?activityId=" + url.QueryEscape(k.act)}, 200)
		v := decode[struct {
			ObjectType string
			ID         string
			Definition struct{ Name map[string]string }
		}](k, a.body)
		if v.ID != k.act || (v.ObjectType != "Activity" && v.ObjectType != "") || v.Definition.Name["en-US"] != "Lesson" {
			k.t.Errorf("activity = %s", a.body)
		}
		k.expect(req{method: "GET", path: "activities"}, 400)
		a = k.expect(req{method: "GET", path: "agents?agent=" + k.agentQ()}, 200)
		if p := decode[struct{ ObjectType string }](k, a.body); p.ObjectType != "Person" {
			k.t.Errorf("agents = %s, want a Person", a.body)
		}
		k.expect(req{method: "GET", path: "agents"}, 400)
	}},
	{"alternate request syntax", func(k *kit) {
		id := xapi.NewUUID()
		form := url.Values{}
		form.Set("statementId", id)
		form.Set("content", k.statement(id, verbDone, ""))
		form.Set("X-Experience-API-Version", "1.0.3")
		form.Set("Content-Type", "application/json")
		if k.tg.Authorization != "" {
			form.Set("Authorization", k.tg.Authorization)
		}
		k.expect(req{method: "POST", path: "statements?method=PUT", body: form.Encode(), ct: "application/x-www-form-urlencoded", version: "-", noAuth: true}, 204)
		get := url.Values{}
		get.Set("statementId", id)
		get.Set("X-Experience-API-Version", "1.0.3")
		if k.tg.Authorization != "" {
			get.Set("Authorization", k.tg.Authorization)
		}
		k.expect(req{method: "POST", path: "statements?method=GET", body: get.Encode(), ct: "application/x-www-form-urlencoded", version: "-", noAuth: true}, 200)
		state := url.Values{}
		state.Set("activityId", k.act)
		state.Set("agent", k.tg.Agent)
		state.Set("registration", k.reg)
		state.Set("stateId", "bookmark")
		state.Set("content", "slide-9")
		state.Set("Content-Type", "text/plain")
		state.Set("X-Experience-API-Version", "1.0.3")
		if k.tg.Authorization != "" {
			state.Set("Authorization", k.tg.Authorization)
		}
		k.expect(req{method: "POST", path: "activities/state?method=PUT", body: state.Encode(), ct: "application/x-www-form-urlencoded", version: "-", noAuth: true}, 204)
		a := k.expect(req{method: "GET", path: k.stateQ("bookmark")}, 200)
		if string(a.body) != "slide-9" {
			k.t.Errorf("state stored with the alternate syntax = %q", a.body)
		}
		k.expect(req{method: "POST", path: "statements?method=PUT&statementId=" + id, body: form.Encode(), ct: "application/x-www-form-urlencoded", version: "-", noAuth: true}, 400)
		v2 := url.Values{}
		for key, vs := range form {
			v2[key] = vs
		}
		v2.Set("X-Experience-API-Version", "2.0.0")
		v2.Set("statementId", xapi.NewUUID())
		k.expect(req{method: "POST", path: "statements?method=PUT", body: v2.Encode(), ct: "application/x-www-form-urlencoded", version: "-", noAuth: true}, 400)
		k.expect(req{method: "PUT", path: "statements?method=POST", body: k.statement("", verbDone, "")}, 400)
		// Headers may also come as real headers; the form then carries only
		// parameters and content.
		a = k.expect(req{method: "POST", path: "statements?method=GET", body: "limit=1", ct: "application/x-www-form-urlencoded"}, 200)
		if r := decode[map[string]json.RawMessage](k, a.body); r["statements"] == nil || r["more"] == nil {
			k.t.Errorf("alternate GET statements = %s, want a StatementResult", a.body)
		}
		k.expect(req{method: "POST", path: "statements?method=PUT", body: "statementId=" + xapi.NewUUID(), ct: "application/x-www-form-urlencoded", noAuth: true}, 400)
		k.expect(req{method: "POST", path: "statements?method=PUT", body: `{"statementId":"` + xapi.NewUUID() + `"}`, ct: "application/x-www-form-urlencoded", noAuth: true}, 400)
		k.expect(req{method: "GET", path: "statements?method=GET"}, 400)
	}},
	{"CORS and paths", func(k *kit) {
		a := k.expect(req{method: "OPTIONS", path: "statements", version: "-", noAuth: true, header: map[string]string{"Origin": "http://content.example", "Access-Control-Request-Method": "PUT"}}, 204)
		if a.header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(a.header.Get("Access-Control-Allow-Headers"), "X-Experience-API-Version") {
			k.t.Errorf("preflight headers %v lack CORS permission", a.header)
		}
		k.expect(req{method: "GET", path: "/statements"}, 200)
		k.expect(req{method: "GET", path: "nothing"}, 404)
	}},
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
