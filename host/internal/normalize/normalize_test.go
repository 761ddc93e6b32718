package normalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	base := testSettings()
	tests := []struct {
		name    string
		modify  func(*Settings)
		wantErr bool
	}{
		{"defaults with base iri", func(*Settings) {}, false},
		{"zero values take defaults", func(s *Settings) { *s = Settings{BaseIRI: base.BaseIRI} }, false},
		{"http base iri", func(s *Settings) { s.BaseIRI = "http://lms.example.com/acme/" }, false},
		{"missing base iri", func(s *Settings) { s.BaseIRI = "" }, true},
		{"relative base iri", func(s *Settings) { s.BaseIRI = "acme.learningflow.example" }, true},
		{"urn base iri", func(s *Settings) { s.BaseIRI = "urn:acme:lf" }, true},
		{"ftp base iri", func(s *Settings) { s.BaseIRI = "ftp://acme.example" }, true},
		{"base iri with query", func(s *Settings) { s.BaseIRI = "https://acme.example/?x=1" }, true},
		{"base iri with fragment", func(s *Settings) { s.BaseIRI = "https://acme.example/#x" }, true},
		{"mbox identity", func(s *Settings) { s.Identity = IdentityMbox }, false},
		{"sha1 identity", func(s *Settings) { s.Identity = IdentityMboxSHA1Sum }, false},
		{"unknown identity", func(s *Settings) { s.Identity = "openid" }, true},
		{"truncate with length", func(s *Settings) { s.ChatText, s.ChatTruncate = ChatTextTruncate, 80 }, false},
		{"truncate without length", func(s *Settings) { s.ChatText = ChatTextTruncate }, true},
		{"negative truncate", func(s *Settings) { s.ChatTruncate = -1 }, true},
		{"drop chat text", func(s *Settings) { s.ChatText = ChatTextDrop }, false},
		{"unknown chat text", func(s *Settings) { s.ChatText = "redact" }, true},
		{"answered verb", func(s *Settings) { s.ScormInteractionVerb = ScormVerbAnswered }, false},
		{"unknown verb", func(s *Settings) { s.ScormInteractionVerb = "interacted" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			tt.modify(&s)
			err := s.Validate()
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSettings) {
				t.Errorf("Validate() = %v, does not wrap ErrSettings", err)
			}
		})
	}
}

// event returns an event of kind with payload for user u-1842.
func event(id, kind, payload string) Event {
	return Event{
		ID: id, Org: "acme", Kind: kind, Time: "2025-03-14T09:00:00Z",
		User:    &User{ID: "u-1842", Email: "jane.doe@acme.example", Name: "Jane Doe"},
		Payload: json.RawMessage(payload),
	}
}

func newTestNormalizer(t testing.TB, store StateStore) *Normalizer {
	t.Helper()
	return New(store, fixedClock(t, defaultNow))
}

func TestNormalizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		settings  Settings
		ev        Event
		wantKind  ErrorKind
		wantField string
		wantIs    error
		wantRule  xapi.Rule
	}{
		{
			name:     "unknown kind",
			settings: testSettings(),
			ev:       event("e1", "forum.post", `{}`),
			wantKind: UnknownKind, wantField: "kind", wantIs: ErrUnknownKind,
		},
		{
			name:     "voiding",
			settings: testSettings(),
			ev: event("e2", KindXAPIStatement, `{"statements":[{"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},
				"object":{"objectType":"StatementRef","id":"9e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"}}]}`),
			wantKind: InvalidEvent, wantField: "payload.statements[0].verb.id", wantIs: ErrVoiding,
		},
		{
			name:     "package statement breaks a decoding rule",
			settings: testSettings(),
			ev: event("e3", KindXAPIStatement, `{"statements":[{"verb":{"id":"http://adlnet.gov/expapi/verbs/scored"},
				"object":{"id":"https://rise.example/a"},"result":{"completion":"true"}}]}`),
			wantKind: InvalidEvent, wantField: "payload.statements[0].result.completion", wantRule: xapi.RuleJSONType,
		},
		{
			name:     "h5p statement breaks a validation rule",
			settings: testSettings(),
			// A verb id is required: there is nothing to repair it to.
			ev: event("e4", KindH5PStatement, `{"statement":{"verb":{"id":"scored"},
				"object":{"id":"https://h5p.example/1"},"result":{"score":{"raw":5,"min":0,"max":2}}}}`),
			wantKind: InvalidEvent, wantField: "payload.statement.verb.id", wantRule: xapi.RuleIRI,
		},
		{
			name:     "scorm string that is not a number",
			settings: testSettings(),
			ev: event("e5", KindSCORMRuntime, `{"version":"2004","package_id":"p","sco_id":"s","attempt_id":"a",
				"call":"Commit","cmi":{"score":{"raw":"eighty"}}}`),
			wantKind: InvalidEvent, wantField: "payload.cmi.score.raw",
		},
		{
			name:     "mbox policy without email",
			settings: func() Settings { s := testSettings(); s.Identity = IdentityMbox; return s }(),
			ev: func() Event {
				ev := event("e6", KindChatMessage, `{"conversation_id":"c","message_id":"m"}`)
				ev.User.Email = ""
				return ev
			}(),
			wantKind: InvalidEvent, wantField: "user.email",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNormalizer(t, NewMemoryState())
			sts, err := n.Normalize(context.Background(), tt.settings, tt.ev)
			if len(sts) != 0 {
				t.Errorf("got %d statements with the error, want none", len(sts))
			}
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("Normalize() error = %v, want an *EventError", err)
			}
			got := struct {
				EventID, Field string
				Kind           ErrorKind
			}{ee.EventID, ee.Field, ee.Kind}
			want := struct {
				EventID, Field string
				Kind           ErrorKind
			}{tt.ev.ID, tt.wantField, tt.wantKind}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("EventError mismatch (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if tt.wantRule != "" {
				var probs xapi.Problems
				if !errors.As(err, &probs) {
					t.Fatalf("error %v does not wrap xapi.Problems", err)
				}
				if probs[0].Rule != tt.wantRule {
					t.Errorf("first rule = %s, want %s", probs[0].Rule, tt.wantRule)
				}
			}
		})
	}
}

func TestNormalizeInvalidSettings(t *testing.T) {
	t.Parallel()
	n := newTestNormalizer(t, nil)
	_, err := n.Normalize(context.Background(), Settings{}, event("e1", KindChatMessage, `{"conversation_id":"c","message_id":"m"}`))
	if !errors.Is(err, ErrSettings) {
		t.Fatalf("Normalize() error = %v, want ErrSettings", err)
	}
	var ee *EventError
	if errors.As(err, &ee) {
		t.Errorf("a settings error is an *EventError: %v", err)
	}
}

func TestErrorMessagesKeepPersonalDataOut(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s.Identity = IdentityMbox
	ev := event("e1", KindChatMessage, `{"conversation_id":"c","message_id":"m","text":"my secret question"}`)
	ev.User.Email = "jane.doe@"
	_, err := newTestNormalizer(t, nil).Normalize(context.Background(), s, ev)
	if err == nil {
		t.Fatal("Normalize() succeeded, want an error")
	}
	for _, secret := range []string{"jane.doe", "my secret question", "Jane Doe"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}

// TestChatReferences checks that the reply refers to the question's
// statement and the feedback to the reply's, whatever their event ids.
func TestChatReferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newTestNormalizer(t, nil)
	one := func(ev Event) *xapi.Statement {
		t.Helper()
		sts, err := n.Normalize(ctx, testSettings(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) != 1 {
			t.Fatalf("got %d statements, want 1", len(sts))
		}
		return sts[0]
	}
	asked := one(event("e-a", KindChatMessage, `{"conversation_id":"c1","message_id":"m1","text":"why?"}`))
	reply := one(event("e-b", KindChatReply, `{"conversation_id":"c1","message_id":"m2","in_reply_to":"m1","bot_id":"b","text":"because"}`))
	feedback := one(event("e-c", KindChatFeedback, `{"message_id":"m2","rating":1}`))
	// The same question re-sent under another event id keeps its id.
	again := one(event("e-a-resent", KindChatMessage, `{"conversation_id":"c1","message_id":"m1","text":"why?"}`))

	got := []string{refID(t, reply), refID(t, feedback), again.ID}
	want := []string{asked.ID, reply.ID, asked.ID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("references mismatch (-want +got):\n%s", diff)
	}
	if reply.Actor.Account == nil || reply.Actor.Account.Name != "chatbot:b" {
		t.Errorf("reply actor = %+v, want the bot's account", reply.Actor)
	}
}

func refID(t testing.TB, st *xapi.Statement) string {
	t.Helper()
	ref, ok := st.Object.(*xapi.StatementRef)
	if !ok {
		t.Fatalf("object is %T, want *xapi.StatementRef", st.Object)
	}
	return ref.ID
}

func TestStatementIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newTestNormalizer(t, nil)
	quiz := `{"quiz_id":"q","score":1,"max_score":2,"questions":[{"id":"a"},{"id":"b"}]}`
	ids := func(org, id string) []string {
		ev := event(id, KindQuizCompleted, quiz)
		ev.Org = org
		sts, err := n.Normalize(ctx, testSettings(), ev)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, st := range sts {
			out = append(out, st.ID)
		}
		return out
	}
	want := []string{
		xapi.MustUUIDv5(xapi.NamespaceStatement, "acme\x00e1\x000"),
		xapi.MustUUIDv5(xapi.NamespaceStatement, "acme\x00e1\x001"),
		xapi.MustUUIDv5(xapi.NamespaceStatement, "acme\x00e1\x002"),
	}
	if diff := cmp.Diff(want, ids("acme", "e1")); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
	seen := make(map[string]bool)
	for _, k := range [][2]string{{"acme", "e1"}, {"acme", "e2"}, {"other", "e1"}} {
		for _, id := range ids(k[0], k[1]) {
			if seen[id] {
				t.Errorf("id %s repeats across orgs, events or positions", id)
			}
			seen[id] = true
		}
	}
}

// scormEvent returns a SCORM 2004 event of attempt att-1.
func scormEvent(id, call, cmi string) Event {
	return event(id, KindSCORMRuntime, `{"version":"2004","package_id":"p","sco_id":"s","attempt_id":"att-1","call":"`+
		call+`","cmi":`+cmi+`}`)
}

func scormSequence() []Event {
	return []Event{
		scormEvent("s1", "Initialize", `{"entry":"ab-initio"}`),
		scormEvent("s2", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a","result":"correct"}]}`),
		scormEvent("s3", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a","result":"correct"},
			{"id":"q2","type":"choice","learner_response":"b","result":"incorrect"}],"score":{"scaled":"0.5"}}`),
		scormEvent("s4", "Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a","result":"correct"},
			{"id":"q2","type":"choice","learner_response":"c","result":"correct"}],"score":{"scaled":"1"},
			"completion_status":"completed","success_status":"passed"}`),
		scormEvent("s5", "Terminate", `{"completion_status":"completed","success_status":"passed","score":{"scaled":"1"},
			"exit":"","session_time":"PT3M"}`),
	}
}

// verbs returns the verb words of sts.
func verbs(sts []*xapi.Statement) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = st.Verb.ID[strings.LastIndexByte(st.Verb.ID, '/')+1:]
	}
	return out
}

// TestSCORMRestart runs a SCORM attempt through several calls, restarting
// the normalizer (a new one on the same store) after every call, and checks
// that the result equals an uninterrupted run and that re-sent calls emit
// nothing, before and after a restart.
func TestSCORMRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testSettings()

	run := func(restart bool) [][]byte {
		store := NewMemoryState()
		n := newTestNormalizer(t, store)
		var out [][]byte
		for _, ev := range scormSequence() {
			sts, err := n.Normalize(ctx, s, ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range sts {
				out = append(out, checkStatement(t, st))
			}
			if restart {
				n = newTestNormalizer(t, store)
			}
			// Re-sending the call yields the same statements again,
			// nothing new.
			again, err := n.Normalize(ctx, s, ev)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(encodeAll(t, sts), encodeAll(t, again)); diff != "" {
				t.Errorf("re-sent %s differs (-first +again):\n%s", ev.ID, diff)
			}
		}
		return out
	}
	straight, restarted := run(false), run(true)
	if diff := cmp.Diff(straight, restarted); diff != "" {
		t.Errorf("restarts change the statements (-straight +restarted):\n%s", diff)
	}

	var got []string
	for _, b := range straight {
		st, err := xapi.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, verbs([]*xapi.Statement{st})...)
	}
	// q2 changed its response in s4, so it is reported again; q1 is not.
	want := []string{"initialized", "responded", "responded", "scored", "responded", "completed", "passed", "terminated"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verbs mismatch (-want +got):\n%s", diff)
	}
}

func encodeAll(t testing.TB, sts []*xapi.Statement) []string {
	t.Helper()
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = string(checkStatement(t, st))
	}
	return out
}

// TestSCORMResentLongAgo checks that a call re-sent after more calls than
// the replay memory holds yields nothing, rather than a second report.
func TestSCORMResentLongAgo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newTestNormalizer(t, nil)
	s := testSettings()
	first := scormEvent("s0", "Commit", `{"interactions":[{"id":"q0","learner_response":"a"}]}`)
	if sts, err := n.Normalize(ctx, s, first); err != nil || len(sts) != 1 {
		t.Fatalf("Normalize() = %d statements, %v; want 1", len(sts), err)
	}
	for i := 1; i <= scormReplayMemory; i++ {
		ev := scormEvent(fmt.Sprintf("s%d", i), "Commit", fmt.Sprintf(`{"interactions":[{"id":"q0","learner_response":"a"},{"id":"q%d","learner_response":"a"}]}`, i))
		if _, err := n.Normalize(ctx, s, ev); err != nil {
			t.Fatal(err)
		}
	}
	sts, err := n.Normalize(ctx, s, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 0 {
		t.Errorf("re-sent old call yielded %v, want nothing", verbs(sts))
	}
}

// TestSCORMNothingSavedOnError checks that a refused event leaves the
// attempt's state as it was.
func TestSCORMNothingSavedOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewMemoryState()
	n := newTestNormalizer(t, store)
	s := testSettings()
	if _, err := n.Normalize(ctx, s, scormEvent("s1", "Initialize", `{}`)); err != nil {
		t.Fatal(err)
	}
	key := store.Keys("acme")[0]
	before, _, _ := store.Load(ctx, "acme", key)

	// A valid interaction together with an invalid score: refused whole.
	bad := scormEvent("s2", "Commit", `{"interactions":[{"id":"q1","learner_response":"a"}],"score":{"scaled":"2"}}`)
	if _, err := n.Normalize(ctx, s, bad); err == nil {
		t.Fatal("Normalize() succeeded, want an error")
	}
	after, _, _ := store.Load(ctx, "acme", key)
	if diff := cmp.Diff(string(before), string(after)); diff != "" {
		t.Errorf("state changed by a refused event (-before +after):\n%s", diff)
	}

	// The interaction is still new once the event is fixed, even under
	// the same event id.
	good := scormEvent("s2", "Commit", `{"interactions":[{"id":"q1","learner_response":"a"}],"score":{"scaled":"0.2"}}`)
	sts, err := n.Normalize(ctx, s, good)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"responded", "scored"}, verbs(sts)); diff != "" {
		t.Errorf("verbs mismatch (-want +got):\n%s", diff)
	}
}

// failingStore fails Load or Save with errStore.
type failingStore struct {
	MemoryState
	failLoad, failSave bool
}

var errStore = errors.New("store unavailable")

func (f *failingStore) Load(ctx context.Context, org, key string) ([]byte, bool, error) {
	if f.failLoad {
		return nil, false, errStore
	}
	return f.MemoryState.Load(ctx, org, key)
}

func (f *failingStore) Save(ctx context.Context, org, key string, b []byte) error {
	if f.failSave {
		return errStore
	}
	return f.MemoryState.Save(ctx, org, key, b)
}

func TestSCORMStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		store *failingStore
	}{
		{"load fails", &failingStore{MemoryState: *NewMemoryState(), failLoad: true}},
		{"save fails", &failingStore{MemoryState: *NewMemoryState(), failSave: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNormalizer(t, tt.store)
			sts, err := n.Normalize(context.Background(), testSettings(), scormEvent("s1", "Initialize", `{}`))
			if !errors.Is(err, errStore) {
				t.Fatalf("Normalize() error = %v, want errStore", err)
			}
			var ee *EventError
			if errors.As(err, &ee) {
				t.Errorf("a store error is an *EventError: %v", err)
			}
			if len(sts) != 0 {
				t.Errorf("got %d statements with the error, want none", len(sts))
			}
		})
	}
}

// TestSCORMConcurrent sends the calls of several attempts from many
// goroutines at once, each call twice; every interaction is reported by
// exactly one statement (a re-sent call may repeat it under the same id).
func TestSCORMConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newTestNormalizer(t, NewMemoryState())
	s := testSettings()
	const attempts, questions = 3, 8
	var (
		mu    sync.Mutex
		count = make(map[string]map[string]bool) // interaction -> statement ids
		wg    sync.WaitGroup
	)
	for a := range attempts {
		for q := range questions {
			for range 2 {
				wg.Go(func() {
					// Each commit carries every question up to q, as a
					// runtime's growing CMI tree does.
					var in []string
					for k := 0; k <= q; k++ {
						in = append(in, fmt.Sprintf(`{"id":"q%d","learner_response":"r"}`, k))
					}
					ev := event(fmt.Sprintf("a%d-c%d", a, q), KindSCORMRuntime, fmt.Sprintf(
						`{"version":"2004","package_id":"p","sco_id":"s","attempt_id":"att-%d","call":"Commit","cmi":{"interactions":[%s]}}`,
						a, strings.Join(in, ",")))
					sts, err := n.Normalize(ctx, s, ev)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for _, st := range sts {
						k := fmt.Sprintf("att-%d %s", a, st.Object.(*xapi.Activity).ID)
						if count[k] == nil {
							count[k] = make(map[string]bool)
						}
						count[k][st.ID] = true
					}
				})
			}
		}
	}
	wg.Wait()
	want := make(map[string]int)
	got := make(map[string]int)
	for a := range attempts {
		for q := range questions {
			want[fmt.Sprintf("att-%d %s/scorm/p/s/interactions/q%d", a, s.BaseIRI, q)] = 1
		}
	}
	for k, ids := range count {
		got[k] = len(ids)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("interaction reports mismatch (-want +got):\n%s", diff)
	}
	if len(n.locks) != 0 {
		t.Errorf("%d attempt locks left behind", len(n.locks))
	}
}

// TestArrivalTime checks that an event without a time takes the arrival
// time, while the package's own valid timestamps are kept.
func TestArrivalTime(t *testing.T) {
	t.Parallel()
	arrival := time.Date(2025, 3, 14, 12, 0, 0, 987654321, time.UTC)
	n := New(nil, func() time.Time { return arrival })
	ev := event("e1", KindXAPIStatement, `{"statements":[
		{"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://rise.example/a"}},
		{"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://rise.example/b"},
		 "timestamp":"2025-03-14T08:00:00.5-03:00"}]}`)
	ev.Time = ""
	sts, err := n.Normalize(context.Background(), testSettings(), ev)
	if err != nil {
		t.Fatal(err)
	}
	got := []time.Time{sts[0].Timestamp, sts[1].Timestamp}
	want := []time.Time{arrival.Truncate(time.Millisecond), time.Date(2025, 3, 14, 11, 0, 0, 5e8, time.UTC)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timestamps mismatch (-want +got):\n%s", diff)
	}
}
