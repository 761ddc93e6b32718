package normalize

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventRefusesDuplicateKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		wantErr error
		want    Event
	}{
		{"plain", `{"id":"e1","org":"acme","kind":"quiz.completed","user":{"id":"u1"},"payload":{"a":1,"a":2}}`, nil,
			Event{ID: "e1", Org: "acme", Kind: "quiz.completed", User: &User{ID: "u1"}, Payload: json.RawMessage(`{"a":1,"a":2}`)}},
		{"two orgs", `{"id":"e1","org":"acme","org":"globex","kind":"quiz.completed","payload":{}}`, ErrDuplicateKey, Event{}},
		{"org in another case", `{"id":"e1","org":"acme","ORG":"globex","payload":{}}`, ErrDuplicateKey, Event{}},
		{"two user ids", `{"id":"e1","org":"acme","user":{"id":"u1","id":"u2"},"payload":{}}`, ErrDuplicateKey, Event{}},
		{"two course ids", `{"id":"e1","course":{"id":"c1","Id":"c2"},"payload":{}}`, ErrDuplicateKey, Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Event
			err := json.Unmarshal([]byte(tt.json), &got)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unmarshal = %v; want %v", err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("event mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
	var ev Event
	if err := json.Unmarshal([]byte(`{"id":`), &ev); err == nil || errors.Is(err, ErrDuplicateKey) {
		t.Errorf("Unmarshal(truncated) = %v; want a syntax error", err)
	}
}

// FuzzEventUnmarshal checks that decoding any bytes as an event neither
// panics nor accepts what encoding/json alone would refuse.
func FuzzEventUnmarshal(f *testing.F) {
	f.Add([]byte(`{"id":"e1","org":"acme","kind":"quiz.completed","user":{"id":"u1"},"payload":{}}`))
	f.Add([]byte(`{"id":"e1","org":"acme","Org":"x"}`))
	f.Add([]byte(`{"user":{"id":"a","ID":"b"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		err := json.Unmarshal(b, &ev)
		type plain Event
		var p plain
		plainErr := json.Unmarshal(b, &p)
		if err == nil && plainErr != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", plainErr)
		}
		if err == nil {
			if diff := cmp.Diff(Event(p), ev); diff != "" {
				t.Errorf("decoded event differs from encoding/json's (-plain +got):\n%s", diff)
			}
		}
	})
}
