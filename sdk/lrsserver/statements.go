package lrsserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func itoa(n int) string { return strconv.Itoa(n) }

// statements answers the statements resource.
func (s *Server) statements(q *request) error {
	switch q.method {
	case http.MethodPut:
		if err := checkParams(q, "statementId"); err != nil {
			return err
		}
		id, err := q.required("statementId")
		if err != nil {
			return err
		}
		if !xapi.IsUUID(id) {
			return statusErr(http.StatusBadRequest, "parameter statementId: %q is not a UUID", id)
		}
		if _, err := s.write(q, strings.ToLower(id)); err != nil {
			return err
		}
		q.w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPost:
		if err := checkParams(q); err != nil {
			return err
		}
		ids, err := s.write(q, "")
		if err != nil {
			return err
		}
		writeJSON(q.w, q.method, http.StatusOK, ids)
		return nil
	case http.MethodGet, http.MethodHead:
		return s.getStatements(q)
	}
	q.w.Header().Set("Allow", "GET, HEAD, POST, PUT")
	return statusErr(http.StatusMethodNotAllowed, "statements takes GET, HEAD, POST or PUT, not %s", q.method)
}

// body reads a statements request body: the statements and, for
// multipart/mixed, the attachment parts by hash.
func (s *Server) body(q *request) ([]byte, map[string]Attachment, error) {
	ct := q.header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, nil, statusErr(http.StatusBadRequest, "Content-Type %q is not application/json or multipart/mixed", ct)
	}
	data, err := s.readAll(q.w, q.body)
	if err != nil {
		return nil, nil, err
	}
	switch mt {
	case "application/json":
		return data, nil, nil
	case "multipart/mixed":
		return readMultipart(data, params["boundary"])
	}
	return nil, nil, statusErr(http.StatusBadRequest, "Content-Type %q is not application/json or multipart/mixed", mt)
}

// readMultipart splits a multipart/mixed statements body.
func readMultipart(data []byte, boundary string) ([]byte, map[string]Attachment, error) {
	if boundary == "" {
		return nil, nil, statusErr(http.StatusBadRequest, "multipart/mixed needs a boundary parameter")
	}
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	var body []byte
	parts := make(map[string]Attachment)
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, statusErr(http.StatusBadRequest, "multipart body, part %d: %v", i, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, statusErr(http.StatusBadRequest, "multipart body, part %d: %v", i, err)
		}
		ct := p.Header.Get("Content-Type")
		if i == 0 {
			if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
				return nil, nil, statusErr(http.StatusBadRequest, "multipart body: the first part must be application/json statements, got Content-Type %q", ct)
			}
			body = b
			continue
		}
		h := strings.ToLower(p.Header.Get("X-Experience-API-Hash"))
		if h == "" {
			return nil, nil, statusErr(http.StatusBadRequest, "multipart body, part %d: missing X-Experience-API-Hash header", i)
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "" && !strings.EqualFold(cte, "binary") {
			return nil, nil, statusErr(http.StatusBadRequest, "multipart body, part %d: Content-Transfer-Encoding must be binary, got %q", i, cte)
		}
		if sum, ok := sha2Hex(h, b); !ok || sum != h {
			return nil, nil, statusErr(http.StatusBadRequest, "multipart body, part %d: its content does not match its X-Experience-API-Hash", i)
		}
		parts[h] = Attachment{ContentType: ct, Data: b}
	}
	if body == nil {
		return nil, nil, statusErr(http.StatusBadRequest, "multipart body holds no part")
	}
	return body, parts, nil
}

// sha2Hex hashes b with the SHA-2 function whose hex length want has.
func sha2Hex(want string, b []byte) (string, bool) {
	var h hash.Hash
	switch len(want) {
	case 56:
		h = sha256.New224()
	case 64:
		h = sha256.New()
	case 96:
		h = sha512.New384()
	case 128:
		h = sha512.New()
	default:
		return "", false
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), true
}

// incoming is a statement of a write request.
type incoming struct {
	st       *xapi.Statement
	raw      []byte
	received []byte
	existing bool
	atts     map[string]Attachment
}

// write validates and stores the statements of a PUT (putID set) or POST
// as one unit and returns their ids.
func (s *Server) write(q *request, putID string) ([]string, error) {
	data, parts, err := s.body(q)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, statusErr(http.StatusBadRequest, "the request body is empty; send a statement or an array of statements")
	}
	if putID != "" && trimmed[0] != '{' {
		return nil, statusErr(http.StatusBadRequest, "PUT statements takes one statement object")
	}
	if trimmed[0] != '{' && trimmed[0] != '[' {
		return nil, statusErr(http.StatusBadRequest, "the body is neither a statement nor an array of statements")
	}
	raws, err := xapi.ParseStatements(trimmed)
	if err != nil {
		return nil, statusErr(http.StatusBadRequest, "the body is not a statement or an array of statements: %s", oneLine(err))
	}
	if putID != "" && len(raws) != 1 {
		return nil, statusErr(http.StatusBadRequest, "PUT statements takes one statement object")
	}
	if most := s.opts.MaxStatements; most > 0 && len(raws) > most {
		return nil, statusErr(http.StatusRequestEntityTooLarge, "%d statements in one request, at most %d allowed", len(raws), most)
	}
	in := make([]incoming, len(raws))
	seen := make(map[string]int, len(raws))
	used := make(map[string]bool)
	for i, raw := range raws {
		st, err := s.check(raw, q.version)
		if err != nil {
			return nil, statusErr(http.StatusBadRequest, "%s is invalid: %s", name(i, raw, putID != ""), oneLine(err))
		}
		switch {
		case putID != "" && st.ID != "" && !strings.EqualFold(st.ID, putID):
			return nil, statusErr(http.StatusBadRequest, "the statement id %s does not match the statementId parameter %s", st.ID, putID)
		case putID != "":
			st.ID = putID
		}
		if s.opts.Admit != nil {
			if err := s.opts.Admit(q.p, st, raw); err != nil {
				return nil, refusal(err)
			}
		}
		if st.ID == "" {
			st.ID = xapi.NewUUID()
		}
		st.ID = strings.ToLower(st.ID)
		if j, dup := seen[st.ID]; dup {
			return nil, statusErr(http.StatusBadRequest, "statements %d and %d have the same id %s", j, i, st.ID)
		}
		seen[st.ID] = i
		if st.Verb.ID == xapi.VerbVoided && q.p.NoVoiding {
			return nil, statusErr(http.StatusForbidden, "%s: this credential may not void statements", name(i, raw, putID != ""))
		}
		atts, err := attachmentsOf(st, parts, used)
		if err == nil {
			err = checkSignatures(st, atts)
		}
		if err != nil {
			return nil, statusErr(http.StatusBadRequest, "%s: %v", name(i, raw, putID != ""), err)
		}
		bare := *st
		bare.Stored, bare.Authority, bare.Version = time.Time{}, nil, ""
		rb, err := xapi.Marshal(&bare, xapi.V200)
		if err != nil {
			return nil, statusErr(http.StatusBadRequest, "%s: %v", name(i, raw, putID != ""), err)
		}
		in[i] = incoming{st: st, raw: raw, received: rb, atts: atts}
	}
	for h := range parts {
		if !used[h] {
			return nil, statusErr(http.StatusBadRequest, "multipart body: the part with hash %s belongs to no attachment", h)
		}
	}
	ctx := q.r.Context()
	ns := q.p.Namespace
	var fresh []*xapi.Statement
	var voids []string
	for i := range in {
		c := &in[i]
		rec, ok, err := s.store.Statement(ctx, ns, c.st.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			if s.opts.Resend == ResendConflict || !bytes.Equal(rec.Received, c.received) {
				return nil, statusErr(http.StatusConflict, "a statement with id %s is already stored with different content", c.st.ID)
			}
			c.existing = true
			continue
		}
		if c.st.Verb.ID == xapi.VerbVoided {
			ref, _ := c.st.Object.(*xapi.StatementRef)
			if ref == nil {
				return nil, statusErr(http.StatusBadRequest, "statement %s voids, so its object must be a StatementRef", c.st.ID)
			}
			target := strings.ToLower(ref.ID)
			if t, ok, err := s.store.Statement(ctx, ns, target); err != nil {
				return nil, err
			} else if ok {
				if tst, err := xapi.Parse(t.Full); err == nil && tst.Verb.ID == xapi.VerbVoided {
					return nil, statusErr(http.StatusBadRequest, "statement %s voids statement %s, which is itself a voiding statement; a voiding statement cannot be voided", c.st.ID, target)
				}
			}
			voids = append(voids, target)
		}
		fresh = append(fresh, c.st)
	}
	// The stored time is taken before the Recorder runs, so that a
	// statement sent without a timestamp gets its stored time as timestamp
	// both here and in what the Recorder passes on.
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	s.flight.begin(now)
	defer s.flight.end(now)
	for _, st := range fresh {
		if st.Timestamp.IsZero() {
			st.Timestamp = now
		}
	}
	recorded := len(fresh) > 0 && s.opts.Recorder != nil
	if recorded {
		out, err := s.opts.Recorder.Record(ctx, q.p, fresh)
		if err != nil {
			return nil, err
		}
		if len(out) != len(fresh) {
			return nil, fmt.Errorf("the recorder returned %d statements for %d", len(out), len(fresh))
		}
		fresh = out
	}
	authority := s.authority(q.p)
	version := "1.0.0"
	if q.version == xapi.V200 {
		version = string(xapi.V200)
	}
	recs := make([]Record, 0, len(fresh))
	k := 0
	for _, c := range in {
		if c.existing {
			continue
		}
		st := fresh[k]
		k++
		var full []byte
		var err error
		if recorded {
			full, err = canonicalFull(st, now, authority, version)
		} else {
			full, err = exactFull(c.raw, st.ID, now, authority, version)
		}
		if err != nil {
			return nil, statusErr(http.StatusBadRequest, "statement %s: %v", st.ID, err)
		}
		decoded, err := xapi.Parse(full)
		if err != nil {
			return nil, statusErr(http.StatusBadRequest, "statement %s: %s", st.ID, oneLine(err))
		}
		recs = append(recs, Record{ID: st.ID, Stored: now, Received: c.received, Full: full, Attachments: c.atts, decoded: decoded})
	}
	if len(recs) > 0 {
		if err := s.store.AddStatements(ctx, ns, recs, voids); errors.Is(err, ErrConflict) {
			return nil, statusErr(http.StatusConflict, "a statement of the request was stored meanwhile by another request")
		} else if err != nil {
			return nil, err
		}
	}
	ids := make([]string, len(in))
	for i, c := range in {
		ids[i] = c.st.ID
	}
	return ids, nil
}

// check validates one statement and decodes it.
func (s *Server) check(raw []byte, v xapi.Version) (*xapi.Statement, error) {
	if err := s.opts.Validate(raw, v); err != nil {
		return nil, err
	}
	return xapi.Parse(raw)
}

// attachmentsOf matches the attachments of st without fileUrl to the
// multipart parts.
func attachmentsOf(st *xapi.Statement, parts map[string]Attachment, used map[string]bool) (map[string]Attachment, error) {
	var out map[string]Attachment
	for i, a := range st.Attachments {
		h := strings.ToLower(a.SHA2)
		p, ok := parts[h]
		if !ok {
			if a.FileURL == "" {
				return nil, fmt.Errorf("attachments[%d] has no fileUrl and the request carries no part with hash %s (send multipart/mixed)", i, a.SHA2)
			}
			continue
		}
		used[h] = true
		if out == nil {
			out = make(map[string]Attachment)
		}
		out[h] = p
	}
	return out, nil
}

func (s *Server) authority(p *Principal) *xapi.Actor {
	n := p.Name
	if n == "" {
		n = "anonymous"
	}
	return &xapi.Actor{ObjectType: xapi.ObjectTypeAgent, Account: &xapi.Account{HomePage: s.opts.AuthorityHomePage, Name: n}}
}

// name names statement i of a request in messages.
func name(i int, raw []byte, single bool) string {
	var probe struct {
		ID any `json:"id"`
	}
	_ = json.Unmarshal(raw, &probe)
	n := "statement " + itoa(i)
	if single {
		n = "the statement"
	}
	if id, ok := probe.ID.(string); ok && id != "" {
		n += " (id " + id + ")"
	}
	return n
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// statementParams are the parameters of GET statements.
var statementParams = []string{"statementId", "voidedStatementId", "agent", "verb", "activity", "registration",
	"related_activities", "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "cursor"}

// getStatements answers GET statements: one statement or a filtered page.
func (s *Server) getStatements(q *request) error {
	if err := checkParams(q, statementParams...); err != nil {
		return err
	}
	format := q.query.Get("format")
	switch format {
	case "":
		format = "exact"
	case "exact", "ids", "canonical":
	default:
		return statusErr(http.StatusBadRequest, "parameter format must be ids, exact or canonical, got %q", format)
	}
	withAtts, err := q.boolParam("attachments")
	if err != nil {
		return err
	}
	h := q.w.Header()
	if q.has("statementId") || q.has("voidedStatementId") {
		return s.getOne(q, format, withAtts)
	}
	f, err := parseFilter(q)
	if err != nil {
		return err
	}
	limit := s.opts.PageSize
	if q.has("limit") {
		n, err := strconv.Atoi(q.query.Get("limit"))
		if err != nil || n < 0 {
			return statusErr(http.StatusBadRequest, "parameter limit must be a non-negative integer, got %q", q.query.Get("limit"))
		}
		if n > 0 && n < limit {
			limit = n
		}
	}
	ascending, err := q.boolParam("ascending")
	if err != nil {
		return err
	}
	var cursor int64
	if q.has("cursor") {
		cursor, err = strconv.ParseInt(q.query.Get("cursor"), 10, 64)
		if err != nil || cursor < 0 {
			return statusErr(http.StatusBadRequest, "parameter cursor is not one this LRS made; follow more as given")
		}
	}
	visible, byID, err := s.visible(q)
	if err != nil {
		return err
	}
	m := matcher{f: f, byID: byID, memo: make(map[string]bool)}
	var page []*entry
	more := ""
	n := len(visible)
	for k := 0; k < n; k++ {
		e := visible[k]
		if !ascending {
			e = visible[n-1-k]
		}
		if e.rec.Voided || (cursor > 0 && ((ascending && e.rec.Seq <= cursor) || (!ascending && e.rec.Seq >= cursor))) {
			continue
		}
		if !f.since.IsZero() && !e.rec.Stored.After(f.since) || !f.until.IsZero() && e.rec.Stored.After(f.until) {
			continue
		}
		if !m.match(e, 0) {
			continue
		}
		if len(page) == limit {
			next := make([]string, 0, len(q.query)+1)
			for k, vs := range q.query {
				if k != "cursor" {
					next = append(next, k+"="+queryEscape(vs[0]))
				}
			}
			next = append(next, "cursor="+strconv.FormatInt(page[len(page)-1].rec.Seq, 10))
			more = s.base + "statements?" + strings.Join(next, "&")
			break
		}
		page = append(page, e)
	}
	list := make([]json.RawMessage, len(page))
	last := time.Time{}
	for i, e := range page {
		b, err := present(e, format, q)
		if err != nil {
			return err
		}
		list[i] = b
		if e.rec.Stored.After(last) {
			last = e.rec.Stored
		}
	}
	if !last.IsZero() {
		h.Set("Last-Modified", last.Format(http.TimeFormat))
	}
	result, _ := json.Marshal(map[string]any{"statements": list, "more": more})
	return s.answer(q, result, page, withAtts)
}

func queryEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(urlQueryEscape(s), "+", "%20"), "%2F", "/")
}

// getOne answers GET statements?statementId= or voidedStatementId=.
func (s *Server) getOne(q *request, format string, withAtts bool) error {
	if err := checkParams(q, "statementId", "voidedStatementId", "format", "attachments"); err != nil {
		return statusErr(http.StatusBadRequest, "statementId and voidedStatementId take only format and attachments besides: %v", err)
	}
	if q.has("statementId") && q.has("voidedStatementId") {
		return statusErr(http.StatusBadRequest, "give statementId or voidedStatementId, not both")
	}
	param, voided := "statementId", false
	if q.has("voidedStatementId") {
		param, voided = "voidedStatementId", true
	}
	id := q.query.Get(param)
	if !xapi.IsUUID(id) {
		return statusErr(http.StatusBadRequest, "parameter %s: %q is not a UUID", param, id)
	}
	rec, ok, err := s.store.Statement(q.r.Context(), q.p.Namespace, strings.ToLower(id))
	if err != nil {
		return err
	}
	s.consistentThrough(q)
	var e *entry
	if ok {
		e, err = newEntry(&rec)
		if err != nil {
			return err
		}
		ok = s.sees(q.p, e.st) && rec.Voided == voided
	}
	if !ok {
		if voided {
			return statusErr(http.StatusNotFound, "no voided statement with id %s", id)
		}
		return statusErr(http.StatusNotFound, "no statement with id %s (a voided statement is returned with voidedStatementId)", id)
	}
	b, err := present(e, format, q)
	if err != nil {
		return err
	}
	q.w.Header().Set("Last-Modified", rec.Stored.UTC().Format(http.TimeFormat))
	return s.answer(q, b, []*entry{e}, withAtts)
}

// answer writes a statements result, as multipart/mixed with the
// attachment data when asked.
func (s *Server) answer(q *request, result []byte, entries []*entry, withAtts bool) error {
	if !withAtts {
		writeBody(q.w, q.method, http.StatusOK, "application/json", result)
		return nil
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(ph)
	_, _ = pw.Write(result)
	done := make(map[string]bool)
	for _, e := range entries {
		for h, a := range e.rec.Attachments {
			if done[h] {
				continue
			}
			done[h] = true
			ah := textproto.MIMEHeader{}
			ah.Set("Content-Type", a.ContentType)
			ah.Set("Content-Transfer-Encoding", "binary")
			ah.Set("X-Experience-API-Hash", h)
			pw, _ := mw.CreatePart(ah)
			_, _ = pw.Write(a.Data)
		}
	}
	_ = mw.Close()
	writeBody(q.w, q.method, http.StatusOK, "multipart/mixed; boundary="+mw.Boundary(), buf.Bytes())
	return nil
}

// entry is a stored statement with its decoded form.
type entry struct {
	rec *Record
	st  *xapi.Statement
}

func newEntry(rec *Record) (*entry, error) {
	if rec.decoded != nil {
		return &entry{rec: rec, st: rec.decoded}, nil
	}
	st, err := xapi.Parse(rec.Full)
	if err != nil {
		return nil, fmt.Errorf("stored statement %s cannot be read: %w", rec.ID, err)
	}
	return &entry{rec: rec, st: st}, nil
}

// visible returns the statements the principal may see, in Seq order, and
// an index by id.
func (s *Server) visible(q *request) ([]*entry, map[string]*entry, error) {
	var list []*entry
	var ferr error
	err := s.store.Statements(q.r.Context(), q.p.Namespace, func(r *Record) bool {
		e, err := newEntry(r)
		if err != nil {
			ferr = err
			return false
		}
		if s.sees(q.p, e.st) {
			list = append(list, e)
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, nil, err
	}
	// Every statement read was stored by now: a consistency time taken
	// after the read is never before a returned statement's stored.
	s.consistentThrough(q)
	byID := make(map[string]*entry, len(list))
	for _, e := range list {
		byID[e.rec.ID] = e
	}
	return list, byID, nil
}

// sees reports whether a restricted principal may read st.
func (s *Server) sees(p *Principal, st *xapi.Statement) bool {
	if p.Learner != nil && AgentKey(&st.Actor) != AgentKey(p.Learner) {
		return false
	}
	if p.Registration != "" && (st.Context == nil || !strings.EqualFold(st.Context.Registration, p.Registration)) {
		return false
	}
	return true
}

// present encodes a stored statement in a format for the request version.
func present(e *entry, format string, q *request) ([]byte, error) {
	switch format {
	case "exact":
		return e.rec.Full, nil
	case "ids":
		return idsJSON(e.rec.Full)
	}
	st, err := xapi.Parse(e.rec.Full)
	if err != nil {
		return nil, err
	}
	canonical(st, acceptLanguages(q.header.Get("Accept-Language")))
	return xapi.Marshal(st, q.version)
}

// canonicalFull encodes a statement the Recorder replaced, with the
// properties the LRS sets.
func canonicalFull(st *xapi.Statement, now time.Time, authority *xapi.Actor, version string) ([]byte, error) {
	if st.Timestamp.IsZero() {
		st.Timestamp = now
	}
	st.Stored, st.Authority = now, authority
	if st.Version == "" {
		st.Version = version
	}
	return xapi.Marshal(st, xapi.V200)
}

// exactFull returns the statement as it was received, with the id, stored,
// authority, version and timestamp the LRS sets, and contextActivities
// values turned into arrays (a single activity object is allowed on input;
// the LRS returns arrays).
func exactFull(raw []byte, id string, now time.Time, authority *xapi.Actor, version string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["id"], _ = json.Marshal(id)
	ts := xapi.FormatTimestamp(now)
	m["stored"], _ = json.Marshal(ts)
	if _, ok := m["timestamp"]; !ok {
		m["timestamp"] = m["stored"]
	}
	if _, ok := m["version"]; !ok {
		m["version"], _ = json.Marshal(version)
	}
	a, err := actorJSON(authority)
	if err != nil {
		return nil, err
	}
	m["authority"] = a
	if c, ok := m["context"]; ok {
		if m["context"], err = arrayContextActivities(c); err != nil {
			return nil, err
		}
	}
	if o, ok := m["object"]; ok {
		var obj map[string]json.RawMessage
		if json.Unmarshal(o, &obj) == nil && string(obj["objectType"]) == `"SubStatement"` {
			if c, ok := obj["context"]; ok {
				if obj["context"], err = arrayContextActivities(c); err != nil {
					return nil, err
				}
				if m["object"], err = json.Marshal(obj); err != nil {
					return nil, err
				}
			}
		}
	}
	return json.Marshal(m)
}

// arrayContextActivities wraps single contextActivities objects of a
// context in arrays.
func arrayContextActivities(c json.RawMessage) (json.RawMessage, error) {
	var ctx map[string]json.RawMessage
	if err := json.Unmarshal(c, &ctx); err != nil {
		return nil, err
	}
	ca, ok := ctx["contextActivities"]
	if !ok {
		return c, nil
	}
	var lists map[string]json.RawMessage
	if err := json.Unmarshal(ca, &lists); err != nil {
		return nil, err
	}
	changed := false
	for k, v := range lists {
		if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '{' {
			lists[k] = append(append([]byte{'['}, t...), ']')
			changed = true
		}
	}
	if !changed {
		return c, nil
	}
	var err error
	if ctx["contextActivities"], err = json.Marshal(lists); err != nil {
		return nil, err
	}
	return json.Marshal(ctx)
}

// actorJSON encodes an agent in xapi's canonical form.
func actorJSON(a *xapi.Actor) (json.RawMessage, error) {
	b, err := xapi.Marshal(&xapi.Statement{Actor: *a, Verb: xapi.Verb{ID: "http://lrs.invalid/v"}, Object: &xapi.Activity{ID: "http://lrs.invalid/a"}}, xapi.V200)
	if err != nil {
		return nil, err
	}
	var w struct {
		Actor json.RawMessage `json:"actor"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	return w.Actor, nil
}

// consistentThrough sets X-Experience-API-Consistent-Through after a read:
// every statement stored up to that time is visible to the reads that
// follow.
func (s *Server) consistentThrough(q *request) {
	q.w.Header().Set("X-Experience-API-Consistent-Through", xapi.FormatTimestamp(s.flight.through(s.opts.Now())))
}
