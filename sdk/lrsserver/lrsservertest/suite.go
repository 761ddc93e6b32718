package lrsservertest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// check sends r and reports (without stopping the case) a status other
// than status.
func (k *kit) check(r req, status int) resp {
	k.t.Helper()
	a := k.do(r)
	if a.status != status {
		k.t.Errorf("%s %s: status %d, want %d; body %s", r.method, r.path, a.status, status, a.body)
	}
	return a
}

// multipartBody builds a multipart/mixed body with a fixed boundary: the
// statement part, then one part per attachment (headers then data).
func multipartBody(boundary, statement string, parts ...[2]string) string {
	var b strings.Builder
	b.WriteString("--" + boundary + "\r\nContent-Type: application/json\r\n\r\n" + statement + "\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p[0] + "\r\n\r\n" + p[1] + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

// suiteCases follow the requirements of an LRS conformance test, by
// section of the xAPI specification's Communication part.
var suiteCases = []testCase{
	{"1.1 HEAD on every resource", func(k *kit) {
		k.post(k.statement(xapi.NewUUID(), verbDone, ""))
		k.expect(req{method: "PUT", path: k.stateQ("head"), body: `{"a":1}`}, 204)
		for _, p := range []string{
			"statements",
			"statements?verb=" + url.QueryEscape(verbDone),
			k.stateQ("head"),
			k.stateQ(""),
			"activities?activityId=" + url.QueryEscape(k.act),
			"agents?agent=" + k.agentQ(),
			"agents/profile?agent=" + k.agentQ(),
			"activities/profile?activityId=" + url.QueryEscape(k.act),
			"about",
		} {
			a := k.check(req{method: "HEAD", path: p}, 200)
			if len(a.body) != 0 {
				k.t.Errorf("HEAD %s has a body of %d bytes", p, len(a.body))
			}
		}
	}},
	{"1.2 headers on every answer", func(k *kit) {
		for _, r := range []req{
			{method: "GET", path: "statements"},
			{method: "GET", path: "statements?statementId=" + xapi.NewUUID()},
			{method: "GET", path: "statements?foo=bar"},
			{method: "POST", path: "statements", body: `{}`},
		} {
			a := k.do(r)
			if a.header.Get("X-Experience-API-Version") == "" {
				k.t.Errorf("%s %s (%d): no X-Experience-API-Version header", r.method, r.path, a.status)
			}
		}
		a := k.check(req{method: "GET", path: "statements"}, 200)
		if _, err := xapi.ParseTimestamp(a.header.Get("X-Experience-API-Consistent-Through")); err != nil {
			k.t.Errorf("X-Experience-API-Consistent-Through %q: %v", a.header.Get("X-Experience-API-Consistent-Through"), err)
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			k.t.Errorf("GET statements Content-Type %q, want application/json", ct)
		}
	}},
	{"1.4 encoding", func(k *kit) {
		id := xapi.NewUUID()
		st := strings.Replace(k.statement(id, verbDone, ""), `"en-US":"did"`, `"en-US":"did","ja-JP":"した","zh-CN":"做了"`, 1)
		k.post(st)
		a := k.check(req{method: "GET", path: "statements?statementId=" + id}, 200)
		if !bytes.Contains(a.body, []byte("した")) || !bytes.Contains(a.body, []byte("做了")) {
			k.t.Errorf("non-ASCII display lost: %s", a.body)
		}
	}},
	{"1.5 content types", func(k *kit) {
		const bd = "-------314159265358979323846"
		fileURL := `,"attachments":[{"usageType":"http://example.com/attachment-usage/test","display":{"en-US":"A test attachment"},"contentType":"text/plain; charset=ascii","length":27,"sha2":"495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a","fileUrl":"http://over.there.com/file.txt"}]`
		withURL := k.statement("", verbDone, fileURL)
		k.check(req{method: "POST", path: "statements", body: withURL}, 200)
		k.check(req{method: "POST", path: "statements", body: withURL, ct: "multipart/form-data; boundary=" + bd}, 400)
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, withURL), ct: "multipart/mixed; boundary=" + bd}, 200)
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, k.statement("", verbDone, "")), ct: "multipart/mixed; boundary=" + bd}, 200)
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, withURL), ct: "multipart/mixed"}, 400)
		t1, t2, t3 := "here is a simple attachment", "here is another simple attachment", "here is a third attachment"
		att := func(data ...string) string {
			var s []string
			for _, d := range data {
				s = append(s, `{"usageType":"http://example.com/attachment-usage/test","display":{"en-US":"A test attachment"},"contentType":"text/plain","length":`+itoa(len(d))+`,"sha2":"`+sha(d)+`"}`)
			}
			return `,"attachments":[` + strings.Join(s, ",") + `]`
		}
		part := func(d string) [2]string {
			return [2]string{"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: " + sha(d), d}
		}
		two := k.statement("", verbDone, att(t1, t2))
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, two, part(t1), part(t2), part(t3)), ct: "multipart/mixed; boundary=" + bd}, 400)
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, two, part(t1)), ct: "multipart/mixed; boundary=" + bd}, 400)
		noHash := [2]string{"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary", t1}
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, k.statement("", verbDone, att(t1)), noHash), ct: "multipart/mixed; boundary=" + bd}, 400)
		base64 := [2]string{"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nX-Experience-API-Hash: " + sha(t1), t1}
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, k.statement("", verbDone, att(t1)), base64), ct: "multipart/mixed; boundary=" + bd}, 400)
		wrongHash := [2]string{"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: " + sha(t2), t1}
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, k.statement("", verbDone, att(t1)), wrongHash), ct: "multipart/mixed; boundary=" + bd}, 400)
		one := k.statement("", verbDone, att(t1))
		twoJSON := [2]string{"Content-Type: application/json", one}
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, one, twoJSON, part(t1)), ct: "multipart/mixed; boundary=" + bd}, 400)
		noLeading := strings.TrimPrefix(multipartBody(bd, one, part(t1)), "--"+bd+"\r\n")
		k.check(req{method: "POST", path: "statements", body: noLeading, ct: "multipart/mixed; boundary=" + bd}, 400)
		glued := strings.Replace(multipartBody(bd, one, part(t1)), "\r\n--"+bd+"\r\nContent-Type: text/plain", "\r\nContent-Type: text/plain", 1)
		k.check(req{method: "POST", path: "statements", body: glued, ct: "multipart/mixed; boundary=" + bd}, 400)
		k.check(req{method: "POST", path: "statements", body: multipartBody(bd, one, part(t1)), ct: "multipart/mixed;"}, 400)
		firstNotJSON := "--" + bd + "\r\nContent-Type: text/plain\r\n\r\n" + k.statement("", verbDone, "") + "\r\n--" + bd + "--\r\n"
		k.check(req{method: "POST", path: "statements", body: firstNotJSON, ct: "multipart/mixed; boundary=" + bd}, 400)
		if !k.tg.Restricted {
			k.check(req{method: "POST", path: "statements", body: multipartBody(bd, two, part(t1), part(t2)), ct: "multipart/mixed; boundary=" + bd}, 200)
			// The declared length is informative: a part of another size
			// is accepted when its hash matches.
			hexData := strings.Repeat("ffd8ffe0", 64)
			declared := strings.Replace(att(hexData), `"length":`+itoa(len(hexData)), `"length":`+itoa(len(hexData)/2), 1)
			k.check(req{method: "POST", path: "statements", body: multipartBody(bd, k.statement("", verbDone, declared), part(hexData)), ct: "multipart/mixed; boundary=" + bd}, 200)
			// GET requests may carry the Content-Type of the last POST.
			mixed := map[string]string{"Content-Type": "multipart/mixed; boundary=" + bd}
			a := k.check(req{method: "GET", path: "statements?attachments=true&limit=1", header: mixed}, 200)
			if !strings.HasPrefix(a.header.Get("Content-Type"), "multipart/mixed") {
				k.t.Errorf("GET attachments=true answered Content-Type %q", a.header.Get("Content-Type"))
			}
			a = k.check(req{method: "GET", path: "statements?attachments=false&limit=1", header: mixed}, 200)
			if a.header.Get("Content-Type") != "application/json" {
				k.t.Errorf("GET attachments=false answered Content-Type %q", a.header.Get("Content-Type"))
			}
		}
	}},
	{"2.1 statements PUT and POST", func(k *kit) {
		st := k.statement("", verbDone, "")
		k.check(req{method: "PUT", path: "statements?statementId=true", body: st}, 400)
		k.check(req{method: "PUT", path: "statements?statementId=" + url.QueryEscape("[object Object]"), body: st}, 400)
		id := xapi.NewUUID()
		k.check(req{method: "PUT", path: "statements?statementId=" + id, body: k.statement(id, verbDone, "")}, 204)
		k.check(req{method: "PUT", path: "statements?statementId=" + id, body: k.statement(id, "http://example.com/different/verb/iri", "")}, 409)
		k.check(req{method: "POST", path: "statements", body: k.statement(id, "http://example.com/different/verb/iri", "")}, 409)
		a := k.check(req{method: "GET", path: "statements?statementId=" + id}, 200)
		if !bytes.Contains(a.body, []byte(verbDone)) {
			k.t.Errorf("statement changed by a conflicting resend: %s", a.body)
		}
		a = k.check(req{method: "GET", path: "statements?statementId=" + strings.ToUpper(id)}, 200)
		_ = a
		dup := xapi.NewUUID()
		k.check(req{method: "POST", path: "statements", body: "[" + k.statement(dup, verbDone, "") + "," + k.statement(dup, verbDone, "") + "]"}, 400)
		k.check(req{method: "GET", path: "statements?statementId=" + dup}, 404)
	}},
	{"2.1 statements GET", func(k *kit) {
		id := xapi.NewUUID()
		k.post(k.statement(id, verbDone, ""))
		k.check(req{method: "GET", path: "statements?verb=" + url.QueryEscape("http://adlnet.gov/expapi/non/existent")}, 200)
		a := k.check(req{method: "GET", path: "statements?statementId=" + id + "&format=exact"}, 200)
		var st struct{ Stored string }
		_ = json.Unmarshal(a.body, &st)
		stored, err := xapi.ParseTimestamp(st.Stored)
		lm, err2 := http.ParseTime(a.header.Get("Last-Modified"))
		if err != nil || err2 != nil || !stored.Truncate(time.Second).Equal(lm) {
			k.t.Errorf("Last-Modified %q does not match stored %q to the second", a.header.Get("Last-Modified"), st.Stored)
		}
		for _, p := range []string{"attachments=true", "attachments=false", "format=ids", "format=canonical", "format=exact"} {
			k.check(req{method: "GET", path: "statements?statementId=" + id + "&" + p}, 200)
		}
		for _, p := range []string{"agent=" + k.agentQ(), "verb=" + url.QueryEscape(verbDone), "activity=" + url.QueryEscape(k.act),
			"registration=" + k.reg, "related_activities=true", "related_agents=true", "since=2012-06-01T19:09:13.245Z",
			"until=2012-06-01T19:09:13.245Z", "limit=10", "ascending=true"} {
			k.check(req{method: "GET", path: "statements?statementId=" + id + "&" + p}, 400)
			k.check(req{method: "GET", path: "statements?voidedStatementId=" + id + "&" + p}, 400)
		}
		k.check(req{method: "GET", path: "statements?voidedStatementId=" + id}, 404)
		for _, p := range []string{"StatementId=" + id, "VoidedStatementId=" + id, "Agent=" + k.agentQ(), "Verb=" + url.QueryEscape(verbDone),
			"Activity=" + url.QueryEscape(k.act), "Registration=" + k.reg, "Related_Activities=true", "Related_Agents=true",
			"Since=2012-06-01T19:09:13.245Z", "Until=2012-06-01T19:09:13.245Z", "Limit=10", "Format=ids", "Attachments=true", "Ascending=true", "foo=bar"} {
			k.check(req{method: "GET", path: "statements?" + p}, 400)
		}
		// Flags without the filter they widen are accepted (and do nothing).
		for _, p := range []string{"related_activities=true", "related_agents=true", "related_activities=false", "ascending=false", "format=exact", "attachments=false", "limit=1"} {
			k.check(req{method: "GET", path: "statements?" + p}, 200)
		}
		a = k.check(req{method: "GET", path: "statements?limit=0&registration=" + k.reg}, 200)
		r := decode[result](k, a.body)
		if len(r.Statements) != 1 {
			k.t.Errorf("limit=0 returned %d statements, want the one stored", len(r.Statements))
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(a.body, &raw)
		if string(raw["more"]) != `""` {
			k.t.Errorf("more without further statements = %s, want an empty string", raw["more"])
		}
	}},
	{"2.4.7 timestamp", func(k *kit) {
		id := xapi.NewUUID()
		k.post(k.statement(id, verbDone, ""))
		a := k.check(req{method: "GET", path: "statements?statementId=" + id}, 200)
		var st struct{ Timestamp, Stored string }
		_ = json.Unmarshal(a.body, &st)
		if st.Timestamp == "" || st.Timestamp != st.Stored {
			k.t.Errorf("timestamp %q of a statement sent without one, want stored %q", st.Timestamp, st.Stored)
		}
		future := time.Now().Add(5 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
		k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"timestamp":"`+future+`"`)}, 200)
		k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"timestamp":"2013-05-18T05:32:34.804+03:00"`)}, 200)
		for _, ts := range []string{"2008-09-15T15:53:00.601-00", "2008-09-15T15:53:00.601-0000", "2008-09-15T15:53:00.601-00:00"} {
			k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"timestamp":"`+ts+`"`)}, 400)
		}
		if k.version == "2.0.0" {
			// xAPI 2.0 timestamps follow RFC 3339, which allows a space
			// between date and time.
			k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"timestamp":"2008-09-15 15:53:00.601+00:00"`)}, 200)
		}
	}},
	{"2.1 since exclusive, until inclusive", func(k *kit) {
		id := xapi.NewUUID()
		k.post(k.statement(id, verbDone, ""))
		a := k.check(req{method: "GET", path: "statements?statementId=" + id}, 200)
		var st struct{ Stored string }
		_ = json.Unmarshal(a.body, &st)
		a = k.check(req{method: "GET", path: "statements?registration=" + k.reg + "&since=" + url.QueryEscape(st.Stored)}, 200)
		if ids := decode[result](k, a.body).ids(); contains(ids, id) {
			k.t.Errorf("since=stored (%s) returns the statement; since is exclusive", st.Stored)
		}
		a = k.check(req{method: "GET", path: "statements?registration=" + k.reg + "&until=" + url.QueryEscape(st.Stored)}, 200)
		if ids := decode[result](k, a.body).ids(); !contains(ids, id) {
			k.t.Errorf("until=stored (%s) leaves the statement out; until is inclusive", st.Stored)
		}
	}},
	{"2.1.4 voided targets still match queries", func(k *kit) {
		if k.tg.Restricted {
			k.t.Skip("this credential may not void")
		}
		verb := "http://example.com/verbs/voided-target/" + xapi.NewUUID()
		voided, voiding, ref := xapi.NewUUID(), xapi.NewUUID(), xapi.NewUUID()
		k.post(k.statement(voided, verb, ""))
		k.post(`{"id":"` + voiding + `","actor":` + k.tg.Agent + `,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"` + voided + `"}}`)
		k.post(`{"id":"` + ref + `","actor":` + k.tg.Agent + `,"verb":{"id":"` + verb + `"},"object":{"objectType":"StatementRef","id":"` + voided + `"}}`)
		a := k.check(req{method: "GET", path: "statements?verb=" + url.QueryEscape(verb)}, 200)
		if got := decode[result](k, a.body).ids(); !sameList(got, []string{ref, voiding}) {
			k.t.Errorf("GET verb of the voided statement = %v, want the StatementRef %s then the voiding %s", got, ref, voiding)
		}
		a = k.check(req{method: "GET", path: "statements?limit=1&verb=" + url.QueryEscape(verb)}, 200)
		if got := decode[result](k, a.body).ids(); !sameList(got, []string{ref}) {
			k.t.Errorf("GET verb limit=1 = %v, want %s", got, ref)
		}
		k.check(req{method: "GET", path: "statements?statementId=" + voided}, 404)
		a = k.check(req{method: "GET", path: "statements?voidedStatementId=" + voided + "&format=ids"}, 200)
		k.check(req{method: "GET", path: "statements?voidedStatementId=" + voided + "&attachments=true"}, 200)
	}},
	{"2.1.3 canonical language and attachments", func(k *kit) {
		id := xapi.NewUUID()
		st := `{"id":"` + id + `","actor":` + k.tg.Agent + `,"verb":{"id":"` + verbDone + `","display":{"en-US":"completed","en-GB":"completed (GB)"}},` +
			`"object":{"id":"` + k.act + `"},"context":{"registration":"` + k.reg + `","contextActivities":{"category":{"id":"http://example.com/category/` + id + `",` +
			`"definition":{"name":{"en-US":"Cat","en-GB":"Cat (GB)"},"description":{"en-US":"About","en-GB":"About (GB)"}}}}}}`
		k.post(st)
		type doc struct {
			Verb    struct{ Display map[string]string }
			Context struct {
				ContextActivities struct {
					Category []struct {
						Definition struct{ Name, Description map[string]string }
					}
				}
			}
		}
		a := k.check(req{method: "GET", path: "statements?statementId=" + id + "&format=canonical", header: map[string]string{"Accept-Language": "en-GB"}}, 200)
		d := decode[doc](k, a.body)
		if _, ok := d.Verb.Display["en-US"]; ok || len(d.Context.ContextActivities.Category) != 1 {
			k.t.Errorf("canonical en-GB keeps en-US: %s", a.body)
		} else if def := d.Context.ContextActivities.Category[0].Definition; def.Name["en-US"] != "" || def.Description["en-US"] != "" {
			k.t.Errorf("canonical en-GB keeps en-US in a context activity: %s", a.body)
		}
		a = k.check(req{method: "GET", path: "statements?statementId=" + id, header: map[string]string{"Accept-Language": "en-GB"}}, 200)
		d = decode[doc](k, a.body)
		if len(d.Verb.Display) != 2 || len(d.Context.ContextActivities.Category) != 1 || len(d.Context.ContextActivities.Category[0].Definition.Name) != 2 {
			k.t.Errorf("without format every language stays: %s", a.body)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			k.t.Errorf("Content-Type %q, want exactly application/json", ct)
		}
		a = k.check(req{method: "GET", path: "statements?attachments=true&limit=2"}, 200)
		mt, params, err := mime.ParseMediaType(a.header.Get("Content-Type"))
		if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
			k.t.Fatalf("attachments=true answered Content-Type %q", a.header.Get("Content-Type"))
		}
		p, err := multipart.NewReader(bytes.NewReader(a.body), params["boundary"]).NextPart()
		if err != nil {
			k.t.Fatalf("attachments=true answer: %v", err)
		}
		first, _ := io.ReadAll(p)
		if r := decode[map[string]json.RawMessage](k, first); r["statements"] == nil || r["more"] == nil {
			k.t.Errorf("first part of attachments=true = %s, want a StatementResult", first)
		}
		a = k.check(req{method: "GET", path: "statements?attachments=false&limit=1"}, 200)
		if r := decode[map[string]json.RawMessage](k, a.body); r["statements"] == nil || r["more"] == nil {
			k.t.Errorf("attachments=false = %s, want a StatementResult", a.body)
		}
	}},
	{"2.1.3 consistent through covers returned statements", func(k *kit) {
		k.post(k.statement("", verbDone, ""), k.statement("", verbTried, ""))
		// A write that began before these were stored and is still in
		// progress (another client's) rightly holds the header back, and
		// statements stored after it may be returned meanwhile; once such
		// writes end, the header must cover everything returned. A server
		// whose header lags behind for good fails.
		var late []string
		for try := 0; try < 50; try++ {
			if try > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			a := k.check(req{method: "GET", path: "statements?registration=" + k.reg}, 200)
			header := a.header.Get("X-Experience-API-Consistent-Through")
			through, err := xapi.ParseTimestamp(header)
			if err != nil {
				k.t.Fatalf("X-Experience-API-Consistent-Through: %v", err)
			}
			var r struct{ Statements []struct{ Stored string } }
			_ = json.Unmarshal(a.body, &r)
			late = late[:0]
			for _, st := range r.Statements {
				stored, err := xapi.ParseTimestamp(st.Stored)
				if err != nil || stored.After(through) {
					late = append(late, fmt.Sprintf("stored %s after X-Experience-API-Consistent-Through %s", st.Stored, header))
				}
			}
			if len(late) == 0 {
				break
			}
		}
		for _, l := range late {
			k.t.Error(l + " (for a second)")
		}
		a := k.check(req{method: "GET", path: "statements", version: "-"}, 400)
		if a.header.Get("X-Experience-API-Consistent-Through") == "" {
			k.t.Error("a 400 answer to GET statements has no X-Experience-API-Consistent-Through")
		}
	}},
	{"1.2 JSON content type on every request", func(k *kit) {
		// Some clients send Content-Type: application/json on every
		// request, bodiless ones included.
		json := map[string]string{"Content-Type": "application/json"}
		k.check(req{method: "GET", path: "statements", header: json}, 200)
		k.check(req{method: "GET", path: "about", header: json}, 200)
		k.check(req{method: "PUT", path: k.stateQ("ct"), body: `{"a":1}`}, 204)
		k.check(req{method: "GET", path: k.stateQ("ct"), header: json}, 200)
		k.check(req{method: "DELETE", path: k.stateQ("ct"), header: json}, 204)
		k.check(req{method: "GET", path: "agents?agent=" + k.agentQ(), header: json}, 200)
		// Some clients send a body with a GET; it is ignored.
		k.check(req{method: "PUT", path: k.stateQ("ct"), body: `{"a":1}`}, 204)
		a := k.check(req{method: "GET", path: k.stateQ("ct"), body: `{"b":2}`}, 200)
		if string(a.body) != `{"a":1}` || len(a.header.Get("ETag")) != 42 {
			k.t.Errorf("GET with a body = %s (ETag %q), want the stored document", a.body, a.header.Get("ETag"))
		}
		k.check(req{method: "GET", path: "statements?limit=1", body: `{"b":2}`}, 200)
	}},
	{"2.2 documents of any content on POST", func(k *kit) {
		form := "application/x-www-form-urlencoded" // what some clients send with a bare string
		docs := []string{k.stateQ(""), "agents/profile?agent=" + k.agentQ()}
		if !k.tg.Restricted {
			docs = append(docs, "activities/profile?activityId="+url.QueryEscape(k.act))
		}
		for _, base := range docs {
			idName := "&stateId="
			if !strings.HasPrefix(base, "activities/state") {
				idName = "&profileId="
			}
			for _, body := range []string{"1", "true"} {
				k.check(req{method: "POST", path: base + idName + xapi.NewUUID(), body: body, ct: form}, 204)
				k.check(req{method: "POST", path: base + idName + xapi.NewUUID(), body: body}, 204)
			}
			doc := base + idName + xapi.NewUUID()
			k.check(req{method: "POST", path: doc, body: `{"car":{"make":"Ford","model":"Escape"},"driver":"Dale"}`}, 204)
			k.check(req{method: "POST", path: doc, body: `{"car":{"make":"Dodge"},"series":"x"}`}, 204)
			a := k.check(req{method: "GET", path: doc}, 200)
			if string(a.body) != `{"car":{"make":"Dodge"},"driver":"Dale","series":"x"}` {
				k.t.Errorf("merge one level deep = %s", a.body)
			}
			k.check(req{method: "POST", path: doc, body: "abc", ct: form}, 400)
			a = k.check(req{method: "GET", path: doc}, 200)
			if !strings.Contains(string(a.body), "Dodge") {
				k.t.Errorf("a refused POST changed the document: %s", a.body)
			}
		}
	}},
	{"2.3 refused POST merges leave the state unchanged", func(k *kit) {
		doc := k.stateQ(xapi.NewUUID())
		k.check(req{method: "POST", path: doc, body: `{"car":"Honda"}`}, 204)
		k.check(req{method: "POST", path: doc, body: "abcdefg", ct: "not/json"}, 400)
		k.check(req{method: "POST", path: doc, body: `{"a":1}{`}, 400)
		a := k.check(req{method: "GET", path: doc}, 200)
		if string(a.body) != `{"car":"Honda"}` {
			k.t.Errorf("state after refused POSTs = %s", a.body)
		}
		bin := k.stateQ(xapi.NewUUID())
		k.check(req{method: "PUT", path: bin, body: "/ asdf / undefined", ct: "application/octet-stream"}, 204)
		k.check(req{method: "POST", path: bin, body: `{"a":1}`}, 400)
		a = k.check(req{method: "GET", path: bin}, 200)
		if string(a.body) != "/ asdf / undefined" || a.header.Get("Content-Type") != "application/octet-stream" {
			k.t.Errorf("binary state after a refused POST = %q (%s)", a.body, a.header.Get("Content-Type"))
		}
		broken := strings.Replace(url.QueryEscape(k.tg.Agent), "%3A", "%22", 1)
		k.check(req{method: "POST", path: "activities/state?activityId=" + url.QueryEscape(k.act) + "&agent=" + broken + "&stateId=s", body: `{"a":1}`}, 400)
		k.check(req{method: "GET", path: k.stateQ("") + "&since=" + url.QueryEscape(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano))}, 200)
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			k.check(req{method: m, path: "activities/state?activityId=" + url.QueryEscape(k.act) + "&agent=" + k.agentQ() + "&registration=true&stateId=s", body: `{"a":1}`}, 400)
		}
	}},
	{"2.4 Person of every identifier", func(k *kit) {
		if k.tg.Restricted {
			k.t.Skip("a launch credential looks up its own learner only")
		}
		for key, actor := range map[string]string{
			"mbox":         `{"objectType":"Agent","name":"Ann","mbox":"mailto:ann-` + xapi.NewUUID() + `@example.com"}`,
			"mbox_sha1sum": `{"objectType":"Agent","name":"Bob","mbox_sha1sum":"cd9b00a5611f94eaa7b1661edab976068e364975"}`,
			"openid":       `{"objectType":"Agent","name":"Cid","openid":"http://openid.example.com/` + xapi.NewUUID() + `"}`,
			"account":      `{"objectType":"Agent","name":"Dee","account":{"homePage":"http://www.example.com","name":"` + xapi.NewUUID() + `"}}`,
		} {
			k.post(`{"actor":` + actor + `,"verb":{"id":"` + verbDone + `"},"object":{"id":"` + k.act + `"}}`)
			a := k.check(req{method: "GET", path: "agents?agent=" + url.QueryEscape(actor)}, 200)
			var p map[string]json.RawMessage
			_ = json.Unmarshal(a.body, &p)
			var names []string
			_ = json.Unmarshal(p["name"], &names)
			if string(p["objectType"]) != `"Person"` || !bytes.HasPrefix(p[key], []byte("[")) || len(names) != 1 {
				k.t.Errorf("Person of %s = %s, want objectType Person, a %s array and the name", actor, a.body, key)
			}
		}
	}},
	{"data 2.2 formatting and types", func(k *kit) {
		act := `{"id":"` + k.act + `"}`
		mk := func(actor, verb, object, extra string) string {
			if actor == "" {
				actor = k.tg.Agent
			}
			if verb == "" {
				verb = `{"id":"` + verbDone + `","display":{"en-US":"completed"}}`
			}
			if object == "" {
				object = act
			}
			return `{"actor":` + actor + `,"verb":` + verb + `,"object":` + object + extra + `}`
		}
		ctx := `,"context":{"registration":"` + k.reg + `"`
		for _, c := range []struct {
			name, body string
			status     int
		}{
			{"timestamp", mk("", "", "", `,"timestamp":"2013-05-18T05:32:34.804Z"`), 200},
			{"no actor", `{"verb":{"id":"` + verbDone + `"},"object":` + act + `}`, 400},
			{"no verb", `{"actor":` + k.tg.Agent + `,"object":` + act + `}`, 400},
			{"no object", `{"actor":` + k.tg.Agent + `,"verb":{"id":"` + verbDone + `"}}`, 400},
			{"timestamp not a date", mk("", "", "", `,"timestamp":"should fail"`), 400},
			{"timestamp US date", mk("", "", "", `,"timestamp":"01/011/2015"`), 400},
			{"null name", mk(`{"objectType":"Agent","name":null,"mbox":"mailto:x@example.com"}`, "", "", ""), 400},
			{"null display", mk("", `{"id":"`+verbDone+`","display":{"en-US":null}}`, "", ""), 400},
			{"null registration", mk("", "", "", `,"context":{"registration":null}`), 400},
			{"null moreInfo", mk("", "", `{"id":"`+k.act+`","definition":{"moreInfo":null}}`, ""), 400},
			{"null in activity extensions", mk("", "", `{"id":"`+k.act+`","definition":{"extensions":{"http://example.com/null":null}}}`, ""), 200},
			{"null in result extensions", mk("", "", "", `,"result":{"extensions":{"http://example.com/null":null}}`), 200},
			{"null in context extensions", mk("", "", "", ctx+`,"extensions":{"http://example.com/null":null}}`), 200},
			{"score max string", mk("", "", "", `,"result":{"score":{"max":"100"}}`), 400},
			{"success string", mk("", "", "", `,"result":{"success":"false"}`), 400},
			{"completion string", mk("", "", "", `,"result":{"completion":"false"}`), 400},
			{"id number", mk("", "", "", `,"id":12345`), 400},
			{"id too long", mk("", "", "", `,"id":"AA97B177-9383-4934-8543-0F91A7A028368"`), 400},
			{"id bad letter", mk("", "", "", `,"id":"MA97B177-9383-4934-8543-0F91A7A02836"`), 400},
			{"id upper case", mk("", "", "", `,"id":"AA97B177-9383-4934-8543-`+strings.ToUpper(xapi.NewUUID()[24:])+`"`), 200},
			{"mis-cased key", mk("", "", "", `,"Result":{}`), 400},
			{"mis-cased objectType", mk(`{"objectType":"agent","mbox":"mailto:x@example.com"}`, "", "", ""), 400},
			{"unknown key", mk("", "", "", `,"foo":1`), 400},
			{"empty object", mk("", `{"id":"`+verbDone+`","display":{}}`, "", ""), 400},
			{"bad language tag", mk("", `{"id":"`+verbDone+`","display":{"de-419-DE":"x"}}`, "", ""), 400},
			{"mbox without mailto", mk(`{"mbox":"x@example.com"}`, "", "", ""), 400},
			{"two identifiers", mk(`{"mbox":"mailto:x@example.com","openid":"http://example.com/x"}`, "", "", ""), 400},
			{"account homePage not IRL", mk(`{"account":{"homePage":"not an irl","name":"x"}}`, "", "", ""), 400},
			{"verb id not IRI", mk("", `{"id":"should fail"}`, "", ""), 400},
			{"scaled above 1", mk("", "", "", `,"result":{"score":{"scaled":1.5}}`), 400},
			{"raw below min", mk("", "", "", `,"result":{"score":{"raw":-1,"min":0,"max":10}}`), 400},
			{"duration", mk("", "", "", `,"result":{"duration":"PT1H0M0S"}`), 200},
			{"bad duration", mk("", "", "", `,"result":{"duration":"1 hour"}`), 400},
			{"revision on agent object", mk("", "", `{"objectType":"Agent","mbox":"mailto:y@example.com"}`, ctx+`,"revision":"1"}`), 400},
			{"platform on agent object", mk("", "", `{"objectType":"Agent","mbox":"mailto:y@example.com"}`, ctx+`,"platform":"x"}`), 400},
			{"nested substatement", mk("", "", `{"objectType":"SubStatement","actor":`+k.tg.Agent+`,"verb":{"id":"`+verbDone+`"},"object":{"objectType":"SubStatement","actor":`+k.tg.Agent+`,"verb":{"id":"`+verbDone+`"},"object":`+act+`}}`, ""), 400},
			{"substatement with id", mk("", "", `{"objectType":"SubStatement","id":"`+xapi.NewUUID()+`","actor":`+k.tg.Agent+`,"verb":{"id":"`+verbDone+`"},"object":`+act+`}`, ""), 400},
			{"statement ref", mk("", "", `{"objectType":"StatementRef","id":"`+xapi.NewUUID()+`"}`, ""), 200},
			{"version 1.0.x", mk("", "", "", `,"version":"1.0.2"`), 200},
			{"version 0.9", mk("", "", "", `,"version":"0.9"`), 400},
			{"interaction without type", mk("", "", `{"id":"`+k.act+`","definition":{"interactionType":"choice","choices":[{"id":"a","description":{"en-US":"A"}}]}}`, ""), 200},
			{"account name object", mk(`{"account":{"homePage":"http://www.example.com","name":{"key":"should fail"}}}`, "", "", ""), 400},
			{"mis-cased interactionType", mk("", "", `{"id":"`+k.act+`","definition":{"interactionType":"choiCe","choices":[{"id":"a","description":{"en-US":"A"}}]}}`, ""), 400},
			{"mis-cased timestamp key", mk("", "", "", `,"timeStamp":"2013-05-18T05:32:34.804Z"`), 400},
			{"authority agent", mk("", "", "", `,"authority":{"objectType":"Agent","mbox":"mailto:authority@example.com"}`), 200},
			{"authority OAuth group", mk("", "", "", `,"authority":{"objectType":"Group","member":[{"account":{"homePage":"http://example.com/xAPI/OAuth/Token","name":"oauth_consumer_x75db"}},{"mbox":"mailto:bob@example.com"}]}`), 200},
			{"authority group of three", mk("", "", "", `,"authority":{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"},{"mbox":"mailto:b@example.com"},{"mbox":"mailto:c@example.com"}]}`), 400},
			{"authority identified group of two mbox agents", mk("", "", "", `,"authority":{"objectType":"Group","name":"xAPI Group","mbox":"mailto:xapigroup@example.com","member":[{"name":"agentA","mbox":"mailto:agentA@example.com"},{"name":"agentB","mbox":"mailto:agentB@example.com"}]}`), 400},
			{"objectType holding JSON", mk(`{"objectType":"\"objectType\": \"Agent\"","mbox":"mailto:x@example.com"}`, "", "", ""), 400},
			{"stored sent", mk("", "", "", `,"stored":"2013-05-18T05:32:34.804Z"`), 200},
			{"choices without interactionType", mk("", "", `{"id":"`+k.act+`","definition":{"choices":[{"id":"a","description":{"en-US":"A"}}]}}`, ""), 400},
		} {
			a := k.do(req{method: "POST", path: "statements", body: c.body})
			if a.status != c.status {
				k.t.Errorf("%s: POST %s: status %d, want %d; body %s", c.name, c.body, a.status, c.status, a.body)
			}
		}
	}},
	{"data 2.0 context agents and groups", func(k *kit) {
		agent := `{"objectType":"Agent","mbox":"mailto:player-1@example.com"}`
		group := `{"objectType":"Group","name":"team","member":[` + agent + `]}`
		ctx := func(inner string) string {
			return `{"actor":` + k.tg.Agent + `,"verb":{"id":"` + verbDone + `"},"object":{"id":"` + k.act + `"},"context":{"registration":"` + k.reg + `",` + inner + `}}`
		}
		valid := ctx(`"contextAgents":[{"objectType":"contextAgent","agent":` + agent + `,"relevantTypes":["http://example.com/types/coach"]}],"contextGroups":[{"objectType":"contextGroup","group":` + group + `}]`)
		if k.version != "2.0.0" {
			// contextAgents and contextGroups are new in 2.0.
			k.check(req{method: "POST", path: "statements", body: valid}, 400)
			return
		}
		k.check(req{method: "POST", path: "statements", body: valid}, 200)
		for name, inner := range map[string]string{
			"objectType":             `"contextAgents":[{"objectType":"Should fail","agent":` + agent + `}]`,
			"agent":                  `"contextAgents":[{"objectType":"contextAgent","agent":{"key":"Should fail"}}]`,
			"empty relevantTypes":    `"contextAgents":[{"objectType":"contextAgent","agent":` + agent + `,"relevantTypes":[]}]`,
			"non-IRI relevantTypes":  `"contextAgents":[{"objectType":"contextAgent","agent":` + agent + `,"relevantTypes":["abc"]}]`,
			"group objectType":       `"contextGroups":[{"objectType":"Should fail","group":` + group + `}]`,
			"group that is an agent": `"contextGroups":[{"objectType":"contextGroup","group":` + agent + `}]`,
		} {
			if a := k.do(req{method: "POST", path: "statements", body: ctx(inner)}); a.status != 400 {
				k.t.Errorf("context agents with a bad %s: status %d, want 400; body %s", name, a.status, a.body)
			}
		}
	}},
	{"2.3 state parameters", func(k *kit) {
		act := "activityId=" + url.QueryEscape(k.act)
		ag := "agent=" + k.agentQ()
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			body := ""
			if m == "PUT" || m == "POST" {
				body = `{"x":1}`
			}
			for _, p := range []string{
				ag + "&stateId=s",
				act + "&stateId=s",
				act + "&agent=" + url.QueryEscape("not JSON") + "&stateId=s",
				act + "&agent=true&stateId=s",
				act + "&" + ag + "&registration=notauuid&stateId=s",
				"activityId=notaniri&" + ag + "&stateId=s",
			} {
				k.check(req{method: m, path: "activities/state?" + p, body: body}, 400)
			}
		}
		k.check(req{method: "GET", path: k.stateQ("") + "&since=yesterday"}, 400)
		k.check(req{method: "PUT", path: k.stateQ("s"), body: `{"x":1}`}, 204)
		foreign := http.StatusNoContent
		if k.tg.Restricted {
			foreign = http.StatusForbidden // a launch credential reaches its own registration only
		}
		k.check(req{method: "PUT", path: "activities/state?" + act + "&" + ag + "&registration=" + xapi.NewUUID() + "&stateId=s", body: `{"x":1}`}, foreign)
	}},
	{"2.4 agents resource", func(k *kit) {
		noIFI := url.QueryEscape(`{"name":"Rick James","objectType":"Agent"}`)
		for _, p := range []string{"agents", "agents?agent=" + url.QueryEscape("not JSON"), "agents?agent=true", "agents?agent=" + k.agentQ() + "&foo=1", "agents?agent=" + noIFI} {
			k.check(req{method: "GET", path: p}, 400)
		}
		other := `{"objectType":"Agent","mbox":"mailto:` + xapi.NewUUID() + `@example.com"}`
		if k.tg.Restricted {
			// A launch credential looks up its own learner only.
			k.check(req{method: "GET", path: "agents?agent=" + url.QueryEscape(other)}, 403)
			other = k.tg.Agent
		}
		a := k.check(req{method: "GET", path: "agents?agent=" + url.QueryEscape(other)}, 200)
		var p map[string]json.RawMessage
		_ = json.Unmarshal(a.body, &p)
		if string(p["objectType"]) != `"Person"` || len(p) < 2 {
			k.t.Errorf("Person of an agent = %s, want objectType Person and its identifier in an array", a.body)
		}
		for key, v := range p {
			if key != "objectType" && !bytes.HasPrefix(v, []byte("[")) {
				k.t.Errorf("Person property %s = %s, want an array", key, v)
			}
		}
	}},
	{"2.5 activities resource", func(k *kit) {
		id := "http://example.com/activities/merged/" + xapi.NewUUID()
		en := `{"actor":` + k.tg.Agent + `,"verb":{"id":"` + verbDone + `"},"object":{"objectType":"Activity","id":"` + id + `","definition":{"name":{"en-US":"example meeting"}}},"context":{"registration":"` + k.reg + `"}}`
		fr := strings.Replace(en, `"en-US":"example meeting"`, `"fr-FR":"réunion"`, 1)
		k.post(en, fr)
		a := k.check(req{method: "GET", path: "activities?activityId=" + url.QueryEscape(id)}, 200)
		var act struct {
			ObjectType, ID string
			Definition     struct{ Name map[string]string }
		}
		_ = json.Unmarshal(a.body, &act)
		if act.ID != id || act.Definition.Name["en-US"] != "example meeting" || act.Definition.Name["fr-FR"] != "réunion" {
			k.t.Errorf("activity from two statements = %s, want both names", a.body)
		}
		unknown := "http://www.example.com/never-before-seen-activityId/" + xapi.NewUUID()
		a = k.check(req{method: "GET", path: "activities?activityId=" + url.QueryEscape(unknown)}, 200)
		act.ObjectType, act.ID = "", ""
		_ = json.Unmarshal(a.body, &act)
		if act.ID != unknown || act.ObjectType != "Activity" {
			k.t.Errorf("unknown activity = %s, want an Activity with its id", a.body)
		}
		k.check(req{method: "GET", path: "activities?activityId=notaniri"}, 400)
		k.check(req{method: "GET", path: "activities?activityId=" + url.QueryEscape(k.act) + "&foo=1"}, 400)
	}},
	{"2.6 agent profile parameters", func(k *kit) {
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			body := ""
			if m == "PUT" || m == "POST" {
				body = `{"x":1}`
			}
			for _, p := range []string{"profileId=p", "agent=" + url.QueryEscape("not JSON") + "&profileId=p", "agent=true&profileId=p"} {
				k.check(req{method: m, path: "agents/profile?" + p, body: body}, 400)
			}
		}
		k.check(req{method: "GET", path: "agents/profile?agent=" + k.agentQ() + "&since=yesterday"}, 400)
		for _, m := range []string{"PUT", "POST", "DELETE"} {
			k.check(req{method: m, path: "agents/profile?agent=" + k.agentQ(), body: `{"x":1}`}, 400)
		}
		doc := "agents/profile?agent=" + k.agentQ() + "&profileId=" + xapi.NewUUID()
		k.check(req{method: "POST", path: doc, body: `{"a":1}`}, 204)
		k.check(req{method: "POST", path: doc, body: `{"b":2}`}, 204)
		a := k.check(req{method: "GET", path: doc}, 200)
		if got := decode[map[string]int](k, a.body); got["a"] != 1 || got["b"] != 2 {
			k.t.Errorf("merged agent profile = %s", a.body)
		}
		k.check(req{method: "POST", path: doc, body: `not json`, ct: "text/plain"}, 400)
	}},
	{"2.7 activity profile parameters", func(k *kit) {
		if k.tg.Restricted {
			k.t.Skip("activity profiles are read-only for this credential")
		}
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			body := ""
			if m == "PUT" || m == "POST" {
				body = `{"x":1}`
			}
			k.check(req{method: m, path: "activities/profile?profileId=p", body: body}, 400)
		}
		k.check(req{method: "GET", path: "activities/profile?activityId=" + url.QueryEscape(k.act) + "&since=yesterday"}, 400)
		doc := "activities/profile?activityId=" + url.QueryEscape(k.act) + "&profileId=" + xapi.NewUUID()
		k.check(req{method: "POST", path: doc, body: `{"a":1}`}, 204)
		a := k.check(req{method: "GET", path: doc}, 200)
		if len(a.header.Get("ETag")) != 42 || !strings.HasPrefix(a.header.Get("ETag"), `"`) {
			k.t.Errorf("ETag %q is not a quoted SHA-1", a.header.Get("ETag"))
		}
		k.check(req{method: "POST", path: doc, body: `{"b":1}`, header: map[string]string{"If-Match": `"1234"`}}, 412)
		k.check(req{method: "POST", path: doc, body: `{"b":1}`, header: map[string]string{"If-Match": a.header.Get("ETag")}}, 204)
		k.check(req{method: "DELETE", path: doc, header: map[string]string{"If-Match": "1234"}}, 412)
		k.check(req{method: "GET", path: doc}, 200)
	}},
	{"2.8 about", func(k *kit) {
		a := k.check(req{method: "GET", path: "about", version: "-", noAuth: true}, 200)
		var v map[string]json.RawMessage
		_ = json.Unmarshal(a.body, &v)
		if ext, ok := v["extensions"]; ok && !bytes.HasPrefix(ext, []byte("{")) {
			k.t.Errorf("about extensions = %s, want an object", ext)
		}
		k.check(req{method: "POST", path: "about", body: "{}"}, 405)
	}},
	{"3.1 concurrency of state documents", func(k *kit) {
		doc := k.stateQ(xapi.NewUUID())
		k.check(req{method: "POST", path: doc, body: `{"a":1}`, version: "2.0.0"}, 204)
		a := k.check(req{method: "GET", path: doc, version: "2.0.0"}, 200)
		if len(a.header.Get("ETag")) != 42 {
			k.t.Errorf("ETag %q is not a quoted SHA-1", a.header.Get("ETag"))
		}
		k.check(req{method: "PUT", path: doc, body: `{"a":2}`, version: "2.0.0", header: map[string]string{"If-Match": "1234"}}, 412)
		k.check(req{method: "POST", path: doc, body: `{"a":2}`, version: "2.0.0", header: map[string]string{"If-Match": "1234"}}, 412)
		k.check(req{method: "DELETE", path: doc, version: "2.0.0", header: map[string]string{"If-Match": "1234"}}, 412)
		c := k.check(req{method: "PUT", path: doc, body: `{"a":3}`, version: "2.0.0"}, 409)
		if len(c.body) == 0 {
			k.t.Error("409 without a message")
		}
		a = k.check(req{method: "GET", path: doc, version: "2.0.0"}, 200)
		if string(a.body) != `{"a":1}` {
			k.t.Errorf("document after refused writes = %s, want {\"a\":1}", a.body)
		}
		k.check(req{method: "PUT", path: doc, body: `{"a":4}`, version: "2.0.0", header: map[string]string{"If-Match": a.header.Get("ETag")}}, 204)
		a = k.check(req{method: "GET", path: doc, version: "2.0.0"}, 200)
		k.check(req{method: "DELETE", path: doc, version: "2.0.0", header: map[string]string{"If-Match": a.header.Get("ETag")}}, 204)
	}},
	{"3.2 error codes", func(k *kit) {
		for _, r := range []req{
			{method: "DELETE", path: "statements?statementId=" + xapi.NewUUID(), version: "1.0.1", noAuth: true},
			{method: "DELETE", path: "activities?activityId=" + url.QueryEscape(k.act), version: "1.0.1", noAuth: true},
			{method: "POST", path: "activities?activityId=" + url.QueryEscape(k.act)},
			{method: "PUT", path: "activities?activityId=" + url.QueryEscape(k.act)},
			{method: "DELETE", path: "agents?agent=" + k.agentQ(), version: "1.0.1", noAuth: true},
			{method: "POST", path: "agents?agent=" + k.agentQ()},
			{method: "PUT", path: "agents?agent=" + k.agentQ()},
		} {
			k.check(r, 405)
		}
	}},
	{"3.3 versioning", func(k *kit) {
		for _, v := range []string{"0.9", "0.95", "1.1.0", "3.0.0", "1.0.3.1", "x"} {
			k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, ""), version: v}, 400)
		}
		a := k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, ""), version: "1.0.4"}, 200)
		ids := decode[[]string](k, a.body)
		if len(ids) == 1 {
			a = k.check(req{method: "GET", path: "statements?statementId=" + ids[0]}, 200)
			var st struct{ Version string }
			_ = json.Unmarshal(a.body, &st)
			if st.Version != "1.0.0" && !strings.HasPrefix(st.Version, "1.0.") {
				k.t.Errorf("stored version %q, want 1.0.x", st.Version)
			}
		}
		k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"version":"1.0.9"`)}, 200)
		k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"version":"1.1.0"`)}, 400)
		k.check(req{method: "POST", path: "statements", body: k.statement("", verbDone, `,"version":"2.0.0"`), version: "2.0.0"}, 200)
	}},
	{"4.0 authentication", func(k *kit) {
		if k.tg.Authorization == "" {
			k.t.Skip("the target needs no credentials")
		}
		for _, r := range []req{
			{method: "GET", path: "statements", noAuth: true},
			{method: "POST", path: "statements", body: k.statement("", verbDone, ""), noAuth: true},
			{method: "GET", path: k.stateQ("s"), noAuth: true},
			{method: "GET", path: "agents?agent=" + k.agentQ(), noAuth: true},
			{method: "GET", path: "statements", noAuth: true, header: map[string]string{"Authorization": "Basic !!!"}},
			{method: "GET", path: "statements", noAuth: true, header: map[string]string{"Authorization": "Bearer x"}},
			{method: "PUT", path: "statements?statementId=" + xapi.NewUUID(), body: k.statement("", verbDone, ""), noAuth: true, header: map[string]string{"Authorization": "Basic:Um9iQ0lzTm90OkFVc2VyT25UaGlzTFJT"}},
			{method: "PUT", path: "statements?statementId=" + xapi.NewUUID(), body: k.statement("", verbDone, ""), noAuth: true, header: map[string]string{"Authorization": "Basic Um9iQ0lzTm90OkFVc2VyT25UaGlzTFJT"}},
		} {
			k.check(r, 401)
		}
	}},
}

func itoa(n int) string { return strconv.Itoa(n) }

// sha returns the hex SHA-256 of s.
func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
