package normalize

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// h5pWith returns an h5p.statement event whose statement has the given
// object definition and result (JSON, "" for none).
func h5pWith(definition, result string) Event {
	st := `{"verb":{"id":"http://adlnet.gov/expapi/verbs/answered","display":{"en-US":"answered"}},
		"object":{"id":"https://h5p.example/embed/7","objectType":"Activity","definition":` + definition + `}`
	if result != "" {
		st += `,"result":` + result
	}
	return event("e-repair", KindH5PStatement, `{"statement":`+st+`}}`)
}

// TestRepairs checks each repair rule: the statement is kept, the invalid
// optional property repaired or dropped, and the repair reported with its
// rule and the field in the event.
func TestRepairs(t *testing.T) {
	t.Parallel()
	const def = "payload.statement.object.definition"
	tests := []struct {
		name string
		ev   Event
		want []Repair
		// check inspects the kept statement.
		check func(t *testing.T, st *xapi.Statement)
	}{
		{
			name: "interaction type outside the vocabulary",
			ev: h5pWith(`{"interactionType":"compound","correctResponsesPattern":["a"],"choices":[{"id":"a"}],
				"name":{"en-US":"Question"}}`, `{"response":"a","success":true}`),
			want: []Repair{{RepairInteractionType, def + ".interactionType"}},
			check: func(t *testing.T, st *xapi.Statement) {
				d := st.Object.(*xapi.Activity).Definition
				if d.InteractionType != "" || d.CorrectResponsesPattern != nil || d.Choices != nil || d.Name["en-US"] != "Question" {
					t.Errorf("definition = %+v; want the type, pattern and choices dropped, the name kept", d)
				}
				if st.Result == nil || st.Result.Response == nil || *st.Result.Response != "a" {
					t.Errorf("result = %+v; want the response kept", st.Result)
				}
			},
		},
		{
			name: "components the type does not allow",
			ev:   h5pWith(`{"interactionType":"fill-in","choices":[{"id":"a"}],"correctResponsesPattern":["x"]}`, ""),
			want: []Repair{{RepairInteractionComponents, def + ".choices"}},
		},
		{
			name: "correct responses without a type",
			ev:   h5pWith(`{"correctResponsesPattern":["x"]}`, ""),
			want: []Repair{{RepairInteractionComponents, def + ".correctResponsesPattern"}},
		},
		{
			name: "component ids repeated",
			ev:   h5pWith(`{"interactionType":"choice","choices":[{"id":"a"},{"id":"a"}]}`, ""),
			want: []Repair{{RepairComponentIDs, def + ".choices"}},
		},
		{
			name: "language tag",
			ev:   h5pWith(`{"name":{"en_US":"Quiz","de":"Test"}}`, ""),
			want: []Repair{{RepairLanguageTag, def + `.name["en_US"]`}},
			check: func(t *testing.T, st *xapi.Statement) {
				if diff := cmp.Diff(xapi.LanguageMap{"de": "Test"}, st.Object.(*xapi.Activity).Definition.Name); diff != "" {
					t.Errorf("name (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "activity type and more info",
			ev:   h5pWith(`{"type":"question","moreInfo":"not a link"}`, ""),
			want: []Repair{{RepairActivityType, def + ".type"}, {RepairMoreInfo, def + ".moreInfo"}},
		},
		{
			name: "scaled score out of range",
			ev:   h5pWith(`{}`, `{"score":{"scaled":3,"raw":3,"min":0,"max":5}}`),
			want: []Repair{{RepairScoreScaled, "payload.statement.result.score.scaled"}},
			check: func(t *testing.T, st *xapi.Statement) {
				if s := st.Result.Score; s.Scaled != nil || *s.Raw != 3 || *s.Max != 5 {
					t.Errorf("score = %+v; want scaled dropped, the rest kept", s)
				}
			},
		},
		{
			name: "raw score above max",
			ev:   h5pWith(`{}`, `{"score":{"raw":7,"min":0,"max":5}}`),
			want: []Repair{{RepairScoreRange, "payload.statement.result.score"}},
		},
		{
			name: "duration not ISO 8601",
			ev:   h5pWith(`{}`, `{"duration":"12 seconds","completion":true}`),
			want: []Repair{{RepairDuration, "payload.statement.result.duration"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := newTestNormalizer(t, nil).Prepare(context.Background(), testSettings(), tt.ev)
			if err != nil {
				t.Fatalf("Prepare() = %v; want the statement kept", err)
			}
			defer p.Abort()
			if len(p.Statements) != 1 {
				t.Fatalf("got %d statements, want 1", len(p.Statements))
			}
			if diff := cmp.Diff(tt.want, p.Repairs); diff != "" {
				t.Errorf("repairs (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, p.Statements[0])
			}
		})
	}
}

// FuzzRepairs builds H5P statements whose required parts are valid and
// whose optional parts take arbitrary values, and checks that none is lost:
// each is kept (valid for both xAPI versions, which Prepare checks) and
// every repair names a known rule.
func FuzzRepairs(f *testing.F) {
	f.Add("compound", "en-US", "http://adlnet.gov/expapi/activities/cmi.interaction", "a", 0.5, 3.0, 0.0, 5.0, "PT3S")
	f.Add("choice", "en_US", "question", "a b", 3.0, 7.0, 0.0, 5.0, "3s")
	f.Add("", "", "", "", -2.0, -1.0, 5.0, 5.0, "")
	known := map[string]bool{
		RepairInteractionType: true, RepairInteractionComponents: true, RepairComponentIDs: true, RepairLanguageTag: true,
		RepairActivityType: true, RepairMoreInfo: true, RepairScoreScaled: true, RepairScoreRange: true, RepairDuration: true,
		RepairContextActivityOnly: true,
	}
	f.Fuzz(func(t *testing.T, itype, lang, typ, choice string, scaled, raw, lo, hi float64, duration string) {
		for _, x := range []float64{scaled, raw, lo, hi} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return // not representable in JSON
			}
		}
		q := strconv.Quote
		num := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		def := `{"interactionType":` + q(itype) + `,"type":` + q(typ) + `,"name":{` + q(lang) + `:"Q"},
			"choices":[{"id":` + q(choice) + `,"description":{` + q(lang) + `:"A"}}],"correctResponsesPattern":[` + q(choice) + `]}`
		res := `{"score":{"scaled":` + num(scaled) + `,"raw":` + num(raw) + `,"min":` + num(lo) + `,"max":` + num(hi) + `},
			"duration":` + q(duration) + `,"response":"r"}`
		ev := h5pWith(def, res)
		if !json.Valid(ev.Payload) {
			return
		}
		p, err := newTestNormalizer(t, nil).Prepare(context.Background(), testSettings(), ev)
		if err != nil {
			t.Fatalf("Prepare() = %v; want the statement kept, its optional properties repaired", err)
		}
		defer p.Abort()
		if len(p.Statements) != 1 {
			t.Fatalf("got %d statements, want 1", len(p.Statements))
		}
		for _, r := range p.Repairs {
			if !known[r.Rule] {
				t.Errorf("repair with unknown rule %+v", r)
			}
		}
	})
}
