package normalize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// FuzzNormalize feeds arbitrary event envelopes, under each identity and
// chat text policy, to a Normalizer whose state persists across inputs. It
// never panics; an event either yields statements that are valid for both
// xAPI versions and encode, or is refused with an *EventError. The seeds are
// the events of every golden case, so each kind is seeded.
func FuzzNormalize(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		for i, ev := range readCase(f, file).Events {
			f.Add([]byte(ev), uint8(i))
		}
	}
	at, _ := time.Parse(time.RFC3339, defaultNow)
	n := New(NewMemoryState(), func() time.Time { return at })
	f.Fuzz(func(t *testing.T, data []byte, policy uint8) {
		var ev Event
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		s := testSettings()
		s.Identity = []string{IdentityAccount, IdentityMbox, IdentityMboxSHA1Sum}[policy%3]
		s.ChatText = []string{ChatTextSend, ChatTextTruncate, ChatTextDrop}[policy/3%3]
		s.ChatTruncate = 3
		s.SendNames = policy&0x80 != 0
		if policy&0x40 != 0 {
			s.ScormInteractionVerb = ScormVerbAnswered
		}
		sts, err := n.Normalize(context.Background(), s, ev)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is not an *EventError", err)
			}
			if ee.Field == "" {
				t.Fatalf("error %v names no field", err)
			}
			if len(sts) != 0 {
				t.Fatalf("%d statements with an error", len(sts))
			}
			return
		}
		ids := make(map[string]bool, len(sts))
		for _, st := range sts {
			checkDeliverable(t, st)
			b, err := xapi.Marshal(st, xapi.V200)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if _, probs := xapi.Check(b, xapi.V200); len(probs) > 0 {
				t.Fatalf("encoded statement does not check: %v\n%s", probs, b)
			}
			if ids[st.ID] {
				t.Fatalf("duplicate statement id %s in one event", st.ID)
			}
			ids[st.ID] = true
			if !bytes.Contains(b, []byte(`"timestamp":`)) {
				t.Fatalf("statement without timestamp: %s", b)
			}
		}
	})
}

// FuzzPayload fuzzes the payload of each kind under a fixed, valid
// envelope, so that mutations go to the normalizers rather than to the
// envelope. The properties are those of FuzzNormalize.
func FuzzPayload(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		for _, raw := range readCase(f, file).Events {
			var ev Event
			if json.Unmarshal(raw, &ev) != nil || len(ev.Payload) == 0 {
				continue
			}
			for i, k := range Kinds {
				if k == ev.Kind {
					f.Add(uint8(i), []byte(ev.Payload))
				}
			}
		}
	}
	at, _ := time.Parse(time.RFC3339, defaultNow)
	n := New(NewMemoryState(), func() time.Time { return at })
	s := testSettings()
	f.Fuzz(func(t *testing.T, kind uint8, payload []byte) {
		ev := Event{
			ID: "evt-fuzz", Org: "acme", Kind: Kinds[int(kind)%len(Kinds)], Time: "2025-03-14T09:00:00Z",
			User:       &User{ID: "u-1842", Email: "jane.doe@acme.example"},
			Course:     &Course{ID: "c-77", Title: "Biology", Lang: "en"},
			Assignment: &Assignment{ID: "as-5"},
			Payload:    payload,
		}
		// A fresh event id each time, so that SCORM calls are not
		// replayed from state.
		ev.ID = "evt-" + strconv.Itoa(int(fuzzCount.Add(1)))
		sts, err := n.Normalize(context.Background(), s, ev)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) || ee.Field == "" {
				t.Fatalf("error %v is not an *EventError naming a field", err)
			}
			return
		}
		for _, st := range sts {
			checkDeliverable(t, st)
			if _, err := xapi.Marshal(st, xapi.V103); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}

var fuzzCount atomic.Int64

// checkDeliverable fails unless st is valid for 2.0.0 and its 1.0.3
// encoding is valid for 1.0.3.
func checkDeliverable(t *testing.T, st *xapi.Statement) {
	t.Helper()
	if probs := xapi.Validate(st, xapi.V200); len(probs) > 0 {
		t.Fatalf("statement not valid for 2.0.0: %v", probs)
	}
	b, err := xapi.Marshal(st, xapi.V103)
	if err != nil {
		t.Fatalf("marshal for 1.0.3: %v", err)
	}
	if _, probs := xapi.Check(b, xapi.V103); len(probs) > 0 {
		t.Fatalf("statement encoded for 1.0.3 not valid for 1.0.3: %v", probs)
	}
}
