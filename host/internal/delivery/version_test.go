package delivery

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

const (
	plainStatement = `{"id":"6a9e5a3a-7c1f-4d62-9a53-0d6b7c9e1f01","actor":{"mbox":"mailto:a@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://example.com/a"}}`
	agentsStatement = `{"id":"6a9e5a3a-7c1f-4d62-9a53-0d6b7c9e1f02","actor":{"mbox":"mailto:a@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://example.com/a"},` +
		`"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:b@example.com"}}]}}`
)

// canonical returns the host's queued form of a statement: its canonical
// 2.0.0 encoding.
func canonical(t testing.TB, js string) []byte {
	t.Helper()
	st, err := xapi.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	b, err := xapi.Marshal(st, xapi.V200)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVersionTag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
		want byte
	}{
		{"nothing 1.0.3 leaves out", canonical(t, plainStatement), TagSameForV103},
		{"context agents", canonical(t, agentsStatement), TagNeedsV103},
		{"not a statement", []byte(`{"contextAgents":`), TagUnchecked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := VersionTag(tc.data); got != tc.want {
				t.Errorf("VersionTag = %d, want %d", got, tc.want)
			}
		})
	}
}

// received is what a sink got for one statement.
type received struct {
	JSON       string
	EncodedFor xapi.Version
}

// v103Sink is a sink of an xAPI 1.0.3 LRS that keeps what it gets.
type v103Sink struct {
	mu  sync.Mutex
	got map[string]received
}

func (s *v103Sink) XAPIVersion() xapi.Version { return xapi.V103 }

func (s *v103Sink) Deliver(_ context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range req.Statements {
		s.got[st.ID] = received{string(st.JSON), st.EncodedFor}
	}
	return sdk.DeliverResponse{}, nil
}

func (s *v103Sink) Close(context.Context) error { return nil }

// versionFixtures returns the canonical plain statement, the one with 2.0.0
// contextAgents, and that one encoded for 1.0.3 (without them).
func versionFixtures(t *testing.T) (plain, agents, agents103 []byte) {
	t.Helper()
	plain, agents = canonical(t, plainStatement), canonical(t, agentsStatement)
	st, err := xapi.Parse(agents)
	if err != nil {
		t.Fatal(err)
	}
	agents103, err = xapi.Marshal(st, xapi.V103)
	if err != nil {
		t.Fatal(err)
	}
	return plain, agents, agents103
}

func TestV103InstanceGetsStatementsWithoutV2OnlyProperties(t *testing.T) {
	t.Parallel()
	const broken = `{"contextAgents":`
	plain, agents, agents103 := versionFixtures(t)
	if bytes.Equal(agents103, agents) {
		t.Fatal("the 1.0.3 form of a statement with context agents is its 2.0.0 form")
	}
	r := newRig(t, fastSettings(), &fakeSink{}, 0)
	sink := &v103Sink{got: map[string]received{}}
	r.restart(t, func(p *Params) {
		p.Connector = ConnectorFunc(func(context.Context, int) (Conn, error) { return Conn{Sink: sink}, nil })
	})
	if err := r.q.Append(context.Background(), []queue.Item{
		{ID: "plain", Data: plain, Tag: VersionTag(plain)},
		{ID: "tagged", Data: agents, Tag: VersionTag(agents)},
		{ID: "unchecked", Data: agents, Tag: TagUnchecked}, // a replayed dead letter
		{ID: "undecodable", Data: []byte(broken), Tag: TagUnchecked},
	}); err != nil {
		t.Fatal(err)
	}
	r.w.Kick()
	waitFor(t, "the queue to drain", r.drained)
	// Each is marked as checked for 1.0.3, so that the sink does not scan
	// it again, except the one the host could not check.
	want := map[string]received{
		"plain":       {string(plain), xapi.V103},
		"tagged":      {string(agents103), xapi.V103},
		"unchecked":   {string(agents103), xapi.V103},
		"undecodable": {broken, ""},
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if diff := cmp.Diff(want, sink.got); diff != "" {
		t.Errorf("statements the 1.0.3 instance got (-want +got):\n%s", diff)
	}
}

// TestEncodeMarksTheCheckedVersion: the bytes a sink gets, and the
// version they are marked as checked for, per instance version and tag.
func TestEncodeMarksTheCheckedVersion(t *testing.T) {
	t.Parallel()
	plain, agents, agents103 := versionFixtures(t)
	broken := []byte(`{"contextAgents":`)
	for _, tc := range []struct {
		name    string
		data    []byte
		tag     byte
		version xapi.Version
		want    received
	}{
		{"1.0.3, same for 1.0.3", plain, TagSameForV103, xapi.V103, received{string(plain), xapi.V103}},
		{"1.0.3, needs 1.0.3", agents, TagNeedsV103, xapi.V103, received{string(agents103), xapi.V103}},
		{"1.0.3, unchecked", agents, TagUnchecked, xapi.V103, received{string(agents103), xapi.V103}},
		{"1.0.3, unchecked and undecodable", broken, TagUnchecked, xapi.V103, received{string(broken), ""}},
		{"2.0.0, same for 1.0.3", plain, TagSameForV103, xapi.V200, received{string(plain), xapi.V200}},
		{"2.0.0, needs 1.0.3", agents, TagNeedsV103, xapi.V200, received{string(agents), xapi.V200}},
		{"2.0.0, unchecked", agents, TagUnchecked, xapi.V200, received{string(agents), ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, encodedFor := encode(queue.Entry{ID: "s", Data: tc.data, Tag: tc.tag}, tc.version)
			if diff := cmp.Diff(tc.want, received{string(data), encodedFor}); diff != "" {
				t.Errorf("encode (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStatementTagAgreesWithTheEncodings: the tag from the fields says
// TagSameForV103 exactly when the 1.0.3 encoding is the 2.0.0 one.
func TestStatementTagAgreesWithTheEncodings(t *testing.T) {
	t.Parallel()
	const (
		head = `{"id":"6a9e5a3a-7c1f-4d62-9a53-0d6b7c9e1f03","actor":{"mbox":"mailto:a@example.com"},` +
			`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},`
		activity = `"object":{"id":"https://example.com/a"}`
		agents   = `"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:b@example.com"}}]`
		groups   = `"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","mbox":"mailto:g@example.com"}}]`
		sub      = `"object":{"objectType":"SubStatement","actor":{"mbox":"mailto:c@example.com"},` +
			`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://example.com/b"}`
	)
	for _, tc := range []struct {
		name, json string
		want       byte
	}{
		{"plain", head + activity + `}`, TagSameForV103},
		{"context without 2.0 properties", head + activity + `,"context":{"registration":"6a9e5a3a-7c1f-4d62-9a53-0d6b7c9e1f04"}}`, TagSameForV103},
		{"context agents", head + activity + `,"context":{` + agents + `}}`, TagNeedsV103},
		{"context groups", head + activity + `,"context":{` + groups + `}}`, TagNeedsV103},
		{"version 1.0.3", head + activity + `,"version":"1.0.3"}`, TagSameForV103},
		{"version 2.0.0", head + activity + `,"version":"2.0.0"}`, TagNeedsV103},
		{"sub-statement", head + sub + `}}`, TagSameForV103},
		{"sub-statement with context agents", head + sub + `,"context":{` + agents + `}}}`, TagNeedsV103},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := xapi.Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			v200, err := xapi.Marshal(st, xapi.V200)
			if err != nil {
				t.Fatal(err)
			}
			v103, err := xapi.Marshal(st, xapi.V103)
			if err != nil {
				t.Fatal(err)
			}
			got := StatementTag(st)
			if got != tc.want {
				t.Errorf("StatementTag = %d, want %d", got, tc.want)
			}
			if same := bytes.Equal(v103, v200); same != (got == TagSameForV103) {
				t.Errorf("StatementTag = %d, but the encodings are the same: %v", got, same)
			}
			// The byte scan may only be more careful than the fields.
			if vt := VersionTag(v200); vt == TagSameForV103 && got != TagSameForV103 {
				t.Errorf("VersionTag = %d, StatementTag = %d", vt, got)
			}
		})
	}
}

// FuzzStatementTag checks on any statement that parses that StatementTag
// says TagSameForV103 exactly when the 1.0.3 encoding is the 2.0.0 one.
func FuzzStatementTag(f *testing.F) {
	f.Add([]byte(plainStatement))
	f.Add([]byte(agentsStatement))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := xapi.Parse(b)
		if err != nil {
			return
		}
		v200, err200 := xapi.Marshal(st, xapi.V200)
		v103, err103 := xapi.Marshal(st, xapi.V103)
		if err200 != nil || err103 != nil {
			return
		}
		if same := bytes.Equal(v103, v200); same != (StatementTag(st) == TagSameForV103) {
			t.Fatalf("StatementTag = %d, encodings the same: %v\n%s", StatementTag(st), same, b)
		}
	})
}
