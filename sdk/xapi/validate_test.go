package xapi

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	valUUID1 = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
	valUUID2 = "9e13cefd-53d3-4eac-b5ed-2cf6693903bb"
	valSHA1  = "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"
	valSHA2  = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
)

func valPtr[T any](v T) *T { return &v }

// valBase returns a valid statement that uses most of the model, for the
// cases below to break one rule at a time.
func valBase() *Statement {
	return &Statement{
		ID: valUUID1,
		Actor: Actor{
			ObjectType: ObjectTypeAgent,
			Name:       "Jane Learner",
			Account:    &Account{HomePage: "https://tenant.example.com", Name: "u-1001"},
		},
		Verb: Verb{
			ID:      "http://adlnet.gov/expapi/verbs/answered",
			Display: LanguageMap{"en-US": "answered", "de": "beantwortet"},
		},
		Object: &Activity{
			ID: "https://tenant.example.com/courses/c1/quiz/q1/items/2",
			Definition: &ActivityDefinition{
				Name:                    LanguageMap{"en-US": "Question 2"},
				Description:             LanguageMap{"en-US": "Which are prime?"},
				Type:                    "http://adlnet.gov/expapi/activities/cmi.interaction",
				MoreInfo:                "https://tenant.example.com/help/q2",
				InteractionType:         "choice",
				CorrectResponsesPattern: []string{"two[,]three"},
				Choices: []InteractionComponent{
					{ID: "two", Description: LanguageMap{"en-US": "2"}},
					{ID: "three", Description: LanguageMap{"en-US": "3"}},
					{ID: "four", Description: LanguageMap{"en-US": "4"}},
				},
				Extensions: Extensions{"https://tenant.example.com/xapi/ext/item": json.RawMessage(`{"n":2}`)},
			},
		},
		Result: &Result{
			Score:      &Score{Scaled: valPtr(0.7), Raw: valPtr(7.0), Min: valPtr(0.0), Max: valPtr(10.0)},
			Success:    valPtr(true),
			Completion: valPtr(true),
			Response:   valPtr("two[,]three"),
			Duration:   &Duration{Time: 83 * time.Second},
			Extensions: Extensions{"https://w3id.org/xapi/cmi5/result/extensions/progress": json.RawMessage(`100`)},
		},
		Context: &Context{
			Registration: valUUID2,
			Instructor:   &Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:teacher@example.com"},
			Team: &Actor{ObjectType: ObjectTypeGroup, Name: "Team A", Member: []Actor{
				{ObjectType: ObjectTypeAgent, MboxSHA1Sum: valSHA1},
				{ObjectType: ObjectTypeAgent, OpenID: "https://openid.example.org/42"},
			}},
			ContextActivities: &ContextActivities{
				Parent:   []Activity{{ID: "https://tenant.example.com/courses/c1/quiz/q1"}},
				Grouping: []Activity{{ID: "https://tenant.example.com/courses/c1"}},
				Category: []Activity{{ID: "https://w3id.org/xapi/scorm", Definition: &ActivityDefinition{Type: "http://adlnet.gov/expapi/activities/profile"}}},
			},
			Revision:   "r3",
			Platform:   "LearningFlow",
			Language:   "en-US",
			Statement:  &StatementRef{ID: valUUID2},
			Extensions: Extensions{"https://w3id.org/xapi/cmi5/context/extensions/sessionid": json.RawMessage(`"s-1"`)},
		},
		Timestamp: time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC),
		Attachments: []Attachment{{
			UsageType:   "https://tenant.example.com/xapi/attachments/certificate",
			Display:     LanguageMap{"en-US": "Certificate"},
			Description: LanguageMap{"en-US": "The course certificate"},
			ContentType: "application/pdf",
			Length:      1024,
			SHA2:        valSHA2,
			FileURL:     "https://tenant.example.com/files/cert.pdf",
		}},
	}
}

func valActivity(s *Statement) *Activity             { return s.Object.(*Activity) }
func valDefinition(s *Statement) *ActivityDefinition { return s.Object.(*Activity).Definition }

// valSub turns the object of s into a SubStatement built from s itself, so
// that sub-statement cases can break the same rules one level down.
func valSub(s *Statement) *SubStatement {
	sub := &SubStatement{
		Actor:       s.Actor,
		Verb:        s.Verb,
		Object:      s.Object,
		Result:      s.Result,
		Context:     s.Context,
		Timestamp:   s.Timestamp,
		Attachments: s.Attachments,
	}
	s.Verb = Verb{ID: "http://adlnet.gov/expapi/verbs/planned", Display: LanguageMap{"en-US": "planned"}}
	s.Result, s.Context, s.Attachments = nil, nil, nil
	s.Object = sub
	return sub
}

type valCase struct {
	name string
	// versions to check; nil means both V103 and V200.
	versions []Version
	mutate   func(s *Statement)
	want     Problems
}

func valProb(path string, rule Rule) Problem { return Problem{Path: path, Rule: rule} }

var valBothVersions = []Version{V103, V200}

func runValCases(t *testing.T, cases []valCase) {
	t.Helper()
	for _, tc := range cases {
		versions := tc.versions
		if versions == nil {
			versions = valBothVersions
		}
		for _, ver := range versions {
			t.Run(tc.name+"/"+string(ver), func(t *testing.T) {
				t.Parallel()
				s := valBase()
				if tc.mutate != nil {
					tc.mutate(s)
				}
				got := Validate(s, ver)
				if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Problem{}, "Message"), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Validate() problems mismatch (-want +got):\n%s", diff)
				}
				for _, pr := range got {
					if pr.Message == "" {
						t.Errorf("problem %s/%s has no message", pr.Path, pr.Rule)
					}
				}
			})
		}
	}
}

func TestValidateBase(t *testing.T) {
	runValCases(t, []valCase{{name: "base statement is valid"}})
}

func TestValidateStatement(t *testing.T) {
	runValCases(t, []valCase{
		{name: "id absent is valid", mutate: func(s *Statement) { s.ID = "" }},
		{name: "id uppercase UUID is valid", mutate: func(s *Statement) { s.ID = strings.ToUpper(valUUID1) }},
		{name: "id not a UUID", mutate: func(s *Statement) { s.ID = "fd41c918b88b4b20a0a5a4c32391aaa0" },
			want: Problems{valProb("id", RuleUUID)}},
		{name: "id braced", mutate: func(s *Statement) { s.ID = "{" + valUUID1 + "}" },
			want: Problems{valProb("id", RuleUUID)}},
		{name: "actor missing", mutate: func(s *Statement) { s.Actor = Actor{} },
			want: Problems{valProb("actor", RuleRequired)}},
		{name: "verb missing", mutate: func(s *Statement) { s.Verb = Verb{} },
			want: Problems{valProb("verb", RuleRequired)}},
		{name: "object missing", mutate: func(s *Statement) { s.Object = nil },
			want: Problems{valProb("object", RuleRequired)}},
		{name: "object typed nil activity", mutate: func(s *Statement) { s.Object = (*Activity)(nil) },
			want: Problems{valProb("object", RuleRequired)}},
		{name: "timestamp absent is valid", mutate: func(s *Statement) { s.Timestamp = time.Time{} }},
		{name: "timestamp with offset is valid", mutate: func(s *Statement) {
			s.Timestamp = time.Date(2024, 1, 1, 10, 0, 0, 0, time.FixedZone("", 2*3600))
		}},
		{name: "timestamp beyond year 9999", mutate: func(s *Statement) { s.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
			want: Problems{valProb("timestamp", RuleTimestamp)}},
		{name: "stored before year 0", mutate: func(s *Statement) { s.Stored = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
			want: Problems{valProb("stored", RuleTimestamp)}},
		{name: "stored is valid", mutate: func(s *Statement) { s.Stored = s.Timestamp.Add(time.Second) }},
	})
}

func TestValidateNilStatement(t *testing.T) {
	got := Validate(nil, V103)
	want := Problems{valProb("", RuleRequired)}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Problem{}, "Message")); diff != "" {
		t.Errorf("Validate(nil) mismatch (-want +got):\n%s", diff)
	}
}

func TestValidateTargetVersion(t *testing.T) {
	got := Validate(valBase(), Version("3.0.0"))
	want := Problems{valProb("", RuleVersion)}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Problem{}, "Message")); diff != "" {
		t.Errorf("Validate(unknown version) mismatch (-want +got):\n%s", diff)
	}
}

func TestValidateVersionProperty(t *testing.T) {
	set := func(v string) func(*Statement) { return func(s *Statement) { s.Version = v } }
	runValCases(t, []valCase{
		{name: "1.0", mutate: set("1.0")},
		{name: "1.0.0", mutate: set("1.0.0")},
		{name: "1.0.3", mutate: set("1.0.3")},
		{name: "1.0.9", mutate: set("1.0.9")},
		{name: "1.0.3 with pre-release and build", mutate: set("1.0.3-rc.1+b7")},
		{name: "2.0.0 for 2.0", versions: []Version{V200}, mutate: set("2.0.0")},
		{name: "2.0.0 for 1.0.3", versions: []Version{V103}, mutate: set("2.0.0"),
			want: Problems{valProb("version", RuleVersion)}},
		{name: "0.9.9", mutate: set("0.9.9"), want: Problems{valProb("version", RuleVersion)}},
		{name: "1.1.0", mutate: set("1.1.0"), want: Problems{valProb("version", RuleVersion)}},
		{name: "2.0", mutate: set("2.0"), want: Problems{valProb("version", RuleVersion)}},
		{name: "1.0.", mutate: set("1.0."), want: Problems{valProb("version", RuleVersion)}},
		{name: "1.03", mutate: set("1.03"), want: Problems{valProb("version", RuleVersion)}},
		{name: "1.0.3-", mutate: set("1.0.3-"), want: Problems{valProb("version", RuleVersion)}},
		{name: "1.0.3+a..b", mutate: set("1.0.3+a..b"), want: Problems{valProb("version", RuleVersion)}},
		{name: "words", mutate: set("should fail"), want: Problems{valProb("version", RuleVersion)}},
	})
}

func TestValidateAgent(t *testing.T) {
	agent := func(a Actor) func(*Statement) { return func(s *Statement) { s.Actor = a } }
	runValCases(t, []valCase{
		{name: "mbox", mutate: agent(Actor{Mbox: "mailto:jane@example.com"})},
		{name: "objectType empty means agent", mutate: agent(Actor{ObjectType: "", OpenID: "http://openid.example.org/1"})},
		{name: "mbox_sha1sum", mutate: agent(Actor{ObjectType: ObjectTypeAgent, MboxSHA1Sum: strings.ToUpper(valSHA1)})},
		{name: "openid", mutate: agent(Actor{ObjectType: ObjectTypeAgent, OpenID: "http://openid.example.org/12345"})},
		{name: "no IFI", mutate: agent(Actor{ObjectType: ObjectTypeAgent, Name: "Jane"}),
			want: Problems{valProb("actor", RuleIFI)}},
		{name: "two IFIs", mutate: agent(Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:jane@example.com", OpenID: "http://openid.example.org/1"}),
			want: Problems{valProb("actor", RuleIFI)}},
		{name: "four IFIs", mutate: agent(Actor{Mbox: "mailto:jane@example.com", MboxSHA1Sum: valSHA1, OpenID: "http://openid.example.org/1",
			Account: &Account{HomePage: "https://example.com", Name: "j"}}),
			want: Problems{valProb("actor", RuleIFI)}},
		{name: "mbox without mailto", mutate: agent(Actor{Mbox: "jane@example.com"}),
			want: Problems{valProb("actor.mbox", RuleMailto)}},
		{name: "mbox undefined", mutate: agent(Actor{Mbox: "mailto:undefined"}),
			want: Problems{valProb("actor.mbox", RuleMailto)}},
		{name: "mbox_sha1sum too short", mutate: agent(Actor{MboxSHA1Sum: valSHA1[:39]}),
			want: Problems{valProb("actor.mbox_sha1sum", RuleSHA1Sum)}},
		{name: "mbox_sha1sum not hex", mutate: agent(Actor{MboxSHA1Sum: "z" + valSHA1[1:]}),
			want: Problems{valProb("actor.mbox_sha1sum", RuleSHA1Sum)}},
		{name: "openid relative", mutate: agent(Actor{OpenID: "openid.example.org/1"}),
			want: Problems{valProb("actor.openid", RuleIRI)}},
		{name: "account homePage missing", mutate: agent(Actor{Account: &Account{Name: "j"}}),
			want: Problems{valProb("actor.account.homePage", RuleRequired)}},
		{name: "account homePage not IRL", mutate: agent(Actor{Account: &Account{HomePage: "urn:lms:1", Name: "j"}}),
			want: Problems{valProb("actor.account.homePage", RuleIRL)}},
		{name: "account name missing", mutate: agent(Actor{Account: &Account{HomePage: "https://example.com"}}),
			want: Problems{valProb("actor.account.name", RuleRequired)}},
		{name: "account empty", mutate: agent(Actor{Account: &Account{}}),
			want: Problems{valProb("actor.account.homePage", RuleRequired), valProb("actor.account.name", RuleRequired)}},
		{name: "bad objectType", mutate: agent(Actor{ObjectType: "agent", Mbox: "mailto:jane@example.com"}),
			want: Problems{valProb("actor.objectType", RuleObjectType)}},
		{name: "agent with members", mutate: agent(Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:jane@example.com",
			Member: []Actor{{Mbox: "mailto:bob@example.com"}}}),
			want: Problems{valProb("actor.objectType", RuleObjectType)}},
		{name: "every problem reported", mutate: agent(Actor{Mbox: "jane", MboxSHA1Sum: "x"}),
			want: Problems{valProb("actor", RuleIFI), valProb("actor.mbox", RuleMailto), valProb("actor.mbox_sha1sum", RuleSHA1Sum)}},
	})
}

func TestValidateGroup(t *testing.T) {
	group := func(a Actor) func(*Statement) {
		a.ObjectType = ObjectTypeGroup
		return func(s *Statement) { s.Actor = a }
	}
	jane := Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:jane@example.com"}
	bob := Actor{Mbox: "mailto:bob@example.com"}
	runValCases(t, []valCase{
		{name: "anonymous with members", mutate: group(Actor{Name: "A", Member: []Actor{jane, bob}})},
		{name: "identified without members", mutate: group(Actor{Mbox: "mailto:team@example.com"})},
		{name: "identified with empty member list", mutate: group(Actor{OpenID: "http://openid.example.org/t", Member: []Actor{}})},
		{name: "identified with members", mutate: group(Actor{Account: &Account{HomePage: "https://example.com", Name: "t"}, Member: []Actor{jane}})},
		{name: "anonymous without members", mutate: group(Actor{Name: "A"}),
			want: Problems{valProb("actor.member", RuleGroupMember)}},
		{name: "anonymous with empty member list", mutate: group(Actor{Member: []Actor{}}),
			want: Problems{valProb("actor.member", RuleGroupMember)}},
		{name: "identified with two IFIs", mutate: group(Actor{Mbox: "mailto:team@example.com", MboxSHA1Sum: valSHA1}),
			want: Problems{valProb("actor", RuleIFI)}},
		{name: "group IFI checked", mutate: group(Actor{Mbox: "team@example.com"}),
			want: Problems{valProb("actor.mbox", RuleMailto)}},
		{name: "member is a group", mutate: group(Actor{Member: []Actor{jane, {ObjectType: ObjectTypeGroup, Member: []Actor{bob}}}}),
			want: Problems{valProb("actor.member[1]", RuleGroupMember)}},
		{name: "member without IFI", mutate: group(Actor{Member: []Actor{jane, {Name: "Bob"}}}),
			want: Problems{valProb("actor.member[1]", RuleIFI)}},
		{name: "member with bad mbox", mutate: group(Actor{Member: []Actor{{Mbox: "mailto:bob"}}}),
			want: Problems{valProb("actor.member[0].mbox", RuleMailto)}},
		{name: "member with bad objectType", mutate: group(Actor{Member: []Actor{{ObjectType: "Person", Mbox: "mailto:bob@example.com"}}}),
			want: Problems{valProb("actor.member[0].objectType", RuleObjectType)}},
	})
}

func TestValidateVerb(t *testing.T) {
	runValCases(t, []valCase{
		{name: "no display", mutate: func(s *Statement) { s.Verb.Display = nil }},
		{name: "urn id", mutate: func(s *Statement) { s.Verb.ID = "urn:lf:verbs:asked" }},
		{name: "id missing", mutate: func(s *Statement) { s.Verb.ID = "" },
			want: Problems{valProb("verb.id", RuleRequired)}},
		{name: "id not IRI", mutate: func(s *Statement) { s.Verb.ID = "answered" },
			want: Problems{valProb("verb.id", RuleIRI)}},
		{name: "id bad scheme", mutate: func(s *Statement) { s.Verb.ID = "ab=c://should.fail.com" },
			want: Problems{valProb("verb.id", RuleIRI)}},
		{name: "display bad tags sorted", mutate: func(s *Statement) {
			s.Verb.Display = LanguageMap{"en-US": "answered", "zz-1234567890": "x", "a12345678": "y"}
		}, want: Problems{valProb(`verb.display["a12345678"]`, RuleLanguageTag), valProb(`verb.display["zz-1234567890"]`, RuleLanguageTag)}},
		{name: "display empty", mutate: func(s *Statement) { s.Verb.Display = LanguageMap{} },
			want: Problems{valProb("verb.display", RuleRequired)}},
	})
}

func TestValidateVoiding(t *testing.T) {
	void := func(obj Object) func(*Statement) {
		return func(s *Statement) {
			s.Verb = Verb{ID: VerbVoided, Display: LanguageMap{"en-US": "voided"}}
			s.Object = obj
			s.Result = nil
			s.Context.Revision, s.Context.Platform = "", ""
		}
	}
	runValCases(t, []valCase{
		{name: "StatementRef object", mutate: void(&StatementRef{ID: valUUID2})},
		{name: "activity object", mutate: void(&Activity{ID: "https://example.com/a"}),
			want: Problems{valProb("object", RuleVoiding)}},
		{name: "agent object", mutate: void(&Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:jane@example.com"}),
			want: Problems{valProb("object", RuleVoiding)}},
		{name: "StatementRef with bad id", mutate: void(&StatementRef{ID: "nope"}),
			want: Problems{valProb("object.id", RuleUUID)}},
	})
}

func TestValidateObject(t *testing.T) {
	noPlatform := func(s *Statement) { s.Context.Revision, s.Context.Platform = "", "" }
	runValCases(t, []valCase{
		{name: "agent object", mutate: func(s *Statement) {
			noPlatform(s)
			s.Object = &Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:bob@example.com"}
		}},
		{name: "group object", mutate: func(s *Statement) {
			noPlatform(s)
			s.Object = &Actor{ObjectType: ObjectTypeGroup, Member: []Actor{{Mbox: "mailto:bob@example.com"}}}
		}},
		{name: "agent object without IFI", mutate: func(s *Statement) {
			noPlatform(s)
			s.Object = &Actor{ObjectType: ObjectTypeAgent}
		}, want: Problems{valProb("object", RuleIFI)}},
		{name: "StatementRef object", mutate: func(s *Statement) {
			noPlatform(s)
			s.Object = &StatementRef{ID: valUUID2}
		}},
		{name: "StatementRef without id", mutate: func(s *Statement) {
			noPlatform(s)
			s.Object = &StatementRef{}
		}, want: Problems{valProb("object.id", RuleRequired)}},
		{name: "StatementRef bad id", mutate: func(s *Statement) {
			noPlatform(s)
			s.Object = &StatementRef{ID: "fd41c918-b88b-4b20-a0a5"}
		}, want: Problems{valProb("object.id", RuleUUID)}},
	})
}

func TestValidateActivity(t *testing.T) {
	runValCases(t, []valCase{
		{name: "id only", mutate: func(s *Statement) { valActivity(s).Definition = nil }},
		{name: "urn id", mutate: func(s *Statement) { valActivity(s).ID = "urn:articulate:storyline:5Ujw93Dh98n/6rrsmIgABtc" }},
		{name: "id missing", mutate: func(s *Statement) { valActivity(s).ID = "" },
			want: Problems{valProb("object.id", RuleRequired)}},
		{name: "id relative", mutate: func(s *Statement) { valActivity(s).ID = "/courses/c1" },
			want: Problems{valProb("object.id", RuleIRI)}},
		{name: "id bare fragment", mutate: func(s *Statement) { valActivity(s).ID = "#q1" },
			want: Problems{valProb("object.id", RuleIRI)}},
		{name: "id with space", mutate: func(s *Statement) { valActivity(s).ID = "http://example.com/a b" },
			want: Problems{valProb("object.id", RuleIRI)}},
		{name: "empty definition", mutate: func(s *Statement) { valActivity(s).Definition = &ActivityDefinition{} }},
		{name: "name bad tag", mutate: func(s *Statement) { valDefinition(s).Name = LanguageMap{"en_GB": "Q"} },
			want: Problems{valProb(`object.definition.name["en_GB"]`, RuleLanguageTag)}},
		{name: "name empty", mutate: func(s *Statement) { valDefinition(s).Name = LanguageMap{} },
			want: Problems{valProb("object.definition.name", RuleRequired)}},
		{name: "description bad tag", mutate: func(s *Statement) { valDefinition(s).Description = LanguageMap{"en_US": "Q"} },
			want: Problems{valProb(`object.definition.description["en_US"]`, RuleLanguageTag)}},
		{name: "type not IRI", mutate: func(s *Statement) { valDefinition(s).Type = "should error" },
			want: Problems{valProb("object.definition.type", RuleIRI)}},
		{name: "moreInfo not IRI", mutate: func(s *Statement) { valDefinition(s).MoreInfo = "should error" },
			want: Problems{valProb("object.definition.moreInfo", RuleIRL)}},
		{name: "moreInfo IRI but not IRL", mutate: func(s *Statement) { valDefinition(s).MoreInfo = "urn:x:y" },
			want: Problems{valProb("object.definition.moreInfo", RuleIRL)}},
		{name: "extension key not IRI", mutate: func(s *Statement) {
			valDefinition(s).Extensions = Extensions{"valid": json.RawMessage(`1`), "http://example.com/ok": nil}
		}, want: Problems{valProb(`object.definition.extensions["valid"]`, RuleIRI)}},
		{name: "extension values never rejected", mutate: func(s *Statement) {
			valDefinition(s).Extensions = Extensions{"http://example.com/a": json.RawMessage(`null`), "http://example.com/b": json.RawMessage(`{}`), "http://example.com/c": nil}
		}},
		{name: "extensions empty", mutate: func(s *Statement) { valDefinition(s).Extensions = Extensions{} }},
	})
}

func TestValidateInteraction(t *testing.T) {
	comps := func(ids ...string) []InteractionComponent {
		out := make([]InteractionComponent, len(ids))
		for i, id := range ids {
			out[i] = InteractionComponent{ID: id, Description: LanguageMap{"en-US": id}}
		}
		return out
	}
	def := func(d ActivityDefinition) func(*Statement) {
		return func(s *Statement) { valActivity(s).Definition = &d }
	}
	var cases []valCase
	for _, it := range InteractionTypes {
		d := ActivityDefinition{InteractionType: it, CorrectResponsesPattern: []string{"x"}}
		switch it {
		case "choice", "sequencing":
			d.Choices = comps("a", "b")
		case "likert":
			d.Scale = comps("1", "2", "3")
		case "matching":
			d.Source, d.Target = comps("a", "b"), comps("1", "2")
		case "performance":
			d.Steps = comps("s1", "s2")
		}
		cases = append(cases, valCase{name: "valid " + it, mutate: def(d)})
	}
	cases = append(cases,
		valCase{name: "type without components", mutate: def(ActivityDefinition{InteractionType: "choice"})},
		valCase{name: "empty correctResponsesPattern", mutate: def(ActivityDefinition{InteractionType: "fill-in", CorrectResponsesPattern: []string{}})},
		valCase{name: "unknown interactionType", mutate: def(ActivityDefinition{InteractionType: "Choice", Choices: comps("a")}),
			want: Problems{valProb("object.definition.interactionType", RuleInteractionType)}},
		valCase{name: "interactionType is an IRI", mutate: def(ActivityDefinition{InteractionType: "http://example.com/choice"}),
			want: Problems{valProb("object.definition.interactionType", RuleInteractionType)}},
		valCase{name: "correctResponsesPattern without interactionType", mutate: def(ActivityDefinition{CorrectResponsesPattern: []string{"a"}}),
			want: Problems{valProb("object.definition.correctResponsesPattern", RuleInteractionComponents)}},
		valCase{name: "choices without interactionType", mutate: def(ActivityDefinition{Choices: comps("a")}),
			want: Problems{valProb("object.definition.choices", RuleInteractionComponents)}},
		valCase{name: "scale for choice", mutate: def(ActivityDefinition{InteractionType: "choice", Choices: comps("a"), Scale: comps("1")}),
			want: Problems{valProb("object.definition.scale", RuleInteractionComponents)}},
		valCase{name: "choices for likert", mutate: def(ActivityDefinition{InteractionType: "likert", Choices: comps("a"), Scale: comps("1")}),
			want: Problems{valProb("object.definition.choices", RuleInteractionComponents)}},
		valCase{name: "steps and target for true-false", mutate: def(ActivityDefinition{InteractionType: "true-false", Target: comps("a"), Steps: comps("1")}),
			want: Problems{valProb("object.definition.target", RuleInteractionComponents), valProb("object.definition.steps", RuleInteractionComponents)}},
		valCase{name: "choices for matching", mutate: def(ActivityDefinition{InteractionType: "matching", Choices: comps("a")}),
			want: Problems{valProb("object.definition.choices", RuleInteractionComponents)}},
		valCase{name: "source for performance", mutate: def(ActivityDefinition{InteractionType: "performance", Source: comps("a")}),
			want: Problems{valProb("object.definition.source", RuleInteractionComponents)}},
		valCase{name: "empty component list", mutate: def(ActivityDefinition{InteractionType: "choice", Choices: []InteractionComponent{}}),
			want: Problems{valProb("object.definition.choices", RuleInteractionComponents)}},
		valCase{name: "duplicate component ids", mutate: def(ActivityDefinition{InteractionType: "choice", Choices: comps("a", "b", "a", "a")}),
			want: Problems{valProb("object.definition.choices[2].id", RuleComponentID), valProb("object.definition.choices[3].id", RuleComponentID)}},
		valCase{name: "same id in source and target", mutate: def(ActivityDefinition{InteractionType: "matching", Source: comps("a"), Target: comps("a")})},
		valCase{name: "empty component id", mutate: def(ActivityDefinition{InteractionType: "likert", Scale: comps("1", "")}),
			want: Problems{valProb("object.definition.scale[1].id", RuleComponentID)}},
		valCase{name: "component id with space", mutate: def(ActivityDefinition{InteractionType: "sequencing", Choices: comps("a b")}),
			want: Problems{valProb("object.definition.choices[0].id", RuleComponentID)}},
		valCase{name: "component description bad tag", mutate: def(ActivityDefinition{InteractionType: "performance",
			Steps: []InteractionComponent{{ID: "s1", Description: LanguageMap{"en-": "x"}}}}),
			want: Problems{valProb(`object.definition.steps[0].description["en-"]`, RuleLanguageTag)}},
		valCase{name: "components checked under unknown type", mutate: def(ActivityDefinition{InteractionType: "quiz", Choices: comps("a", "a")}),
			want: Problems{valProb("object.definition.interactionType", RuleInteractionType), valProb("object.definition.choices[1].id", RuleComponentID)}},
	)
	runValCases(t, cases)
}

func TestValidateResult(t *testing.T) {
	score := func(sc Score) func(*Statement) { return func(s *Statement) { s.Result.Score = &sc } }
	runValCases(t, []valCase{
		{name: "empty result", mutate: func(s *Statement) { s.Result = &Result{} }},
		{name: "empty score", mutate: score(Score{})},
		{name: "scaled 1", mutate: score(Score{Scaled: valPtr(1.0)})},
		{name: "scaled -1", mutate: score(Score{Scaled: valPtr(-1.0)})},
		{name: "scaled 1.01", mutate: score(Score{Scaled: valPtr(1.01)}),
			want: Problems{valProb("result.score.scaled", RuleScoreScaled)}},
		{name: "scaled -1.00001", mutate: score(Score{Scaled: valPtr(-1.00001)}),
			want: Problems{valProb("result.score.scaled", RuleScoreScaled)}},
		{name: "raw alone any number", mutate: score(Score{Raw: valPtr(-12345.678)})},
		{name: "raw at max", mutate: score(Score{Raw: valPtr(10.0), Min: valPtr(0.0), Max: valPtr(10.0)})},
		{name: "raw at min", mutate: score(Score{Raw: valPtr(0.0), Min: valPtr(0.0), Max: valPtr(10.0)})},
		{name: "raw above max", mutate: score(Score{Raw: valPtr(0.6767676), Max: valPtr(0.6567676)}),
			want: Problems{valProb("result.score.raw", RuleScoreRaw)}},
		{name: "raw below min", mutate: score(Score{Raw: valPtr(0.6767676), Min: valPtr(1.4067676)}),
			want: Problems{valProb("result.score.raw", RuleScoreRaw)}},
		{name: "min alone", mutate: score(Score{Min: valPtr(0.6767676)})},
		{name: "max alone", mutate: score(Score{Max: valPtr(100.6767676)})},
		{name: "min above max", mutate: score(Score{Min: valPtr(0.6767676), Max: valPtr(0.6767355), Raw: valPtr(0.6767643)}),
			want: Problems{valProb("result.score.raw", RuleScoreRaw), valProb("result.score.min", RuleScoreMinMax)}},
		{name: "min equals max", mutate: score(Score{Min: valPtr(5.0), Max: valPtr(5.0)}),
			want: Problems{valProb("result.score.min", RuleScoreMinMax)}},
		{name: "NaN and infinity", mutate: score(Score{Scaled: valPtr(math.NaN()), Raw: valPtr(math.Inf(1))}),
			want: Problems{valProb("result.score.scaled", RuleJSONType), valProb("result.score.raw", RuleJSONType)}},
		{name: "duration weeks", mutate: func(s *Statement) { s.Result.Duration = &Duration{Weeks: 4} }},
		{name: "duration zero", mutate: func(s *Statement) { s.Result.Duration = &Duration{} }},
		{name: "duration negative", mutate: func(s *Statement) { s.Result.Duration = &Duration{Time: -time.Second} },
			want: Problems{valProb("result.duration", RuleDuration)}},
		{name: "duration weeks and days", mutate: func(s *Statement) { s.Result.Duration = &Duration{Weeks: 4, Days: 1} },
			want: Problems{valProb("result.duration", RuleDuration)}},
		{name: "extension key not IRI", mutate: func(s *Statement) { s.Result.Extensions = Extensions{"progress": json.RawMessage(`1`)} },
			want: Problems{valProb(`result.extensions["progress"]`, RuleIRI)}},
	})
}

func TestValidateContext(t *testing.T) {
	ctx := func(f func(c *Context)) func(*Statement) { return func(s *Statement) { f(s.Context) } }
	runValCases(t, []valCase{
		{name: "empty context", mutate: func(s *Statement) { s.Context = &Context{} }},
		{name: "registration not UUID", mutate: ctx(func(c *Context) { c.Registration = "attempt-1" }),
			want: Problems{valProb("context.registration", RuleUUID)}},
		{name: "instructor group", mutate: ctx(func(c *Context) {
			c.Instructor = &Actor{ObjectType: ObjectTypeGroup, Member: []Actor{{Mbox: "mailto:t@example.com"}}}
		})},
		{name: "instructor without IFI", mutate: ctx(func(c *Context) { c.Instructor = &Actor{Name: "T"} }),
			want: Problems{valProb("context.instructor", RuleIFI)}},
		{name: "team is an agent", mutate: ctx(func(c *Context) { c.Team = &Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:t@example.com"} }),
			want: Problems{valProb("context.team", RuleContextTeam)}},
		{name: "team anonymous without members", mutate: ctx(func(c *Context) { c.Team = &Actor{ObjectType: ObjectTypeGroup} }),
			want: Problems{valProb("context.team.member", RuleGroupMember)}},
		{name: "contextActivities other only", mutate: ctx(func(c *Context) {
			c.ContextActivities = &ContextActivities{Other: []Activity{{ID: "https://example.com/o"}}}
		})},
		{name: "contextActivities empty object", mutate: ctx(func(c *Context) { c.ContextActivities = &ContextActivities{} }),
			want: Problems{valProb("context.contextActivities", RuleRequired)}},
		{name: "contextActivities empty list", mutate: ctx(func(c *Context) { c.ContextActivities.Grouping = []Activity{} }),
			want: Problems{valProb("context.contextActivities.grouping", RuleRequired)}},
		{name: "contextActivities activity id", mutate: ctx(func(c *Context) {
			c.ContextActivities.Parent = append(c.ContextActivities.Parent, Activity{ID: "not an iri"})
		}), want: Problems{valProb("context.contextActivities.parent[1].id", RuleIRI)}},
		{name: "contextActivities activity definition", mutate: ctx(func(c *Context) { c.ContextActivities.Category[0].Definition.Type = "profile" }),
			want: Problems{valProb("context.contextActivities.category[0].definition.type", RuleIRI)}},
		{name: "platform and revision with agent object", mutate: func(s *Statement) {
			s.Object = &Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:bob@example.com"}
		}, want: Problems{valProb("context.revision", RuleContextActivityOnly), valProb("context.platform", RuleContextActivityOnly)}},
		{name: "platform with StatementRef object", mutate: func(s *Statement) {
			s.Object = &StatementRef{ID: valUUID2}
			s.Context.Revision = ""
		}, want: Problems{valProb("context.platform", RuleContextActivityOnly)}},
		{name: "no platform with StatementRef object", mutate: func(s *Statement) {
			s.Object = &StatementRef{ID: valUUID2}
			s.Context.Revision, s.Context.Platform = "", ""
		}},
		{name: "language bad tag", mutate: ctx(func(c *Context) { c.Language = "a12345678" }),
			want: Problems{valProb("context.language", RuleLanguageTag)}},
		{name: "language private use", mutate: ctx(func(c *Context) { c.Language = "x-lflow" })},
		{name: "statement ref bad id", mutate: ctx(func(c *Context) { c.Statement = &StatementRef{ID: "42"} }),
			want: Problems{valProb("context.statement.id", RuleUUID)}},
		{name: "statement ref no id", mutate: ctx(func(c *Context) { c.Statement = &StatementRef{} }),
			want: Problems{valProb("context.statement.id", RuleRequired)}},
		{name: "extension key not IRI", mutate: ctx(func(c *Context) { c.Extensions = Extensions{"sessionid": nil} }),
			want: Problems{valProb(`context.extensions["sessionid"]`, RuleIRI)}},
	})
}

func TestValidateContextAgentsGroups(t *testing.T) {
	jane := Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:jane@example.com"}
	team := Actor{ObjectType: ObjectTypeGroup, Name: "T", Member: []Actor{jane}}
	agents := func(list ...ContextAgent) func(*Statement) {
		return func(s *Statement) { s.Context.ContextAgents = list }
	}
	groups := func(list ...ContextGroup) func(*Statement) {
		return func(s *Statement) { s.Context.ContextGroups = list }
	}
	v2 := []Version{V200}
	runValCases(t, []valCase{
		{name: "contextAgents", versions: v2, mutate: agents(ContextAgent{Agent: jane, RelevantTypes: []string{"https://example.com/types/mentor"}})},
		{name: "contextAgents without relevantTypes", versions: v2, mutate: agents(ContextAgent{Agent: jane})},
		{name: "contextAgents empty list", versions: v2, mutate: agents()},
		{name: "contextAgents in 1.0.3", versions: []Version{V103}, mutate: agents(ContextAgent{Agent: jane}),
			want: Problems{valProb("context.contextAgents", RuleNotInVersion)}},
		{name: "contextAgents empty list in 1.0.3", versions: []Version{V103}, mutate: func(s *Statement) { s.Context.ContextAgents = []ContextAgent{} },
			want: Problems{valProb("context.contextAgents", RuleNotInVersion)}},
		{name: "contextAgent agent missing", versions: v2, mutate: agents(ContextAgent{}),
			want: Problems{valProb("context.contextAgents[0].agent", RuleRequired)}},
		{name: "contextAgent agent invalid", versions: v2, mutate: agents(ContextAgent{Agent: jane}, ContextAgent{Agent: Actor{Name: "x"}}),
			want: Problems{valProb("context.contextAgents[1].agent", RuleIFI)}},
		{name: "contextAgent agent is a group", versions: v2, mutate: agents(ContextAgent{Agent: team}),
			want: Problems{valProb("context.contextAgents[0].agent.objectType", RuleObjectType)}},
		{name: "contextAgent relevantTypes empty", versions: v2, mutate: agents(ContextAgent{Agent: jane, RelevantTypes: []string{}}),
			want: Problems{valProb("context.contextAgents[0].relevantTypes", RuleRelevantTypes)}},
		{name: "contextAgent relevantTypes not IRI", versions: v2, mutate: agents(ContextAgent{Agent: jane, RelevantTypes: []string{"https://example.com/t", "abc"}}),
			want: Problems{valProb("context.contextAgents[0].relevantTypes[1]", RuleIRI)}},
		{name: "contextGroups", versions: v2, mutate: groups(ContextGroup{Group: team, RelevantTypes: []string{"https://example.com/types/cohort"}})},
		{name: "contextGroups identified", versions: v2, mutate: groups(ContextGroup{Group: Actor{ObjectType: ObjectTypeGroup, Mbox: "mailto:g@example.com"}})},
		{name: "contextGroups in 1.0.3", versions: []Version{V103}, mutate: groups(ContextGroup{Group: team}),
			want: Problems{valProb("context.contextGroups", RuleNotInVersion)}},
		{name: "contextGroup group missing", versions: v2, mutate: groups(ContextGroup{}),
			want: Problems{valProb("context.contextGroups[0].group", RuleRequired)}},
		{name: "contextGroup group is an agent", versions: v2, mutate: groups(ContextGroup{Group: jane}),
			want: Problems{valProb("context.contextGroups[0].group.objectType", RuleObjectType)}},
		{name: "contextGroup anonymous without members", versions: v2, mutate: groups(ContextGroup{Group: Actor{ObjectType: ObjectTypeGroup}}),
			want: Problems{valProb("context.contextGroups[0].group.member", RuleGroupMember)}},
		{name: "contextGroup relevantTypes empty", versions: v2, mutate: groups(ContextGroup{Group: team, RelevantTypes: []string{}}),
			want: Problems{valProb("context.contextGroups[0].relevantTypes", RuleRelevantTypes)}},
		{name: "contextGroup relevantTypes not IRI", versions: v2, mutate: groups(ContextGroup{Group: team, RelevantTypes: []string{"cohort"}}),
			want: Problems{valProb("context.contextGroups[0].relevantTypes[0]", RuleIRI)}},
	})
}

func TestValidateAuthority(t *testing.T) {
	oauth := Actor{Account: &Account{HomePage: "http://example.com/xAPI/OAuth/Token", Name: "oauth_consumer_x75db"}}
	bob := Actor{Mbox: "mailto:bob@example.com"}
	auth := func(a Actor) func(*Statement) { return func(s *Statement) { s.Authority = &a } }
	runValCases(t, []valCase{
		{name: "agent", mutate: auth(Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:lrs@example.com"})},
		{name: "anonymous group of two", mutate: auth(Actor{ObjectType: ObjectTypeGroup, Member: []Actor{oauth, bob}})},
		{name: "agent without IFI", mutate: auth(Actor{ObjectType: ObjectTypeAgent}),
			want: Problems{valProb("authority", RuleIFI)}},
		{name: "group of one", mutate: auth(Actor{ObjectType: ObjectTypeGroup, Member: []Actor{bob}}),
			want: Problems{valProb("authority.member", RuleAuthority)}},
		{name: "group of three", mutate: auth(Actor{ObjectType: ObjectTypeGroup, Member: []Actor{oauth, bob, {Mbox: "mailto:james@example.com"}}}),
			want: Problems{valProb("authority.member", RuleAuthority)}},
		{name: "identified group", mutate: auth(Actor{ObjectType: ObjectTypeGroup, OpenID: "http://openid.example.org/12345", Member: []Actor{oauth, bob}}),
			want: Problems{valProb("authority", RuleAuthority)}},
		{name: "anonymous group without members", mutate: auth(Actor{ObjectType: ObjectTypeGroup}),
			want: Problems{valProb("authority.member", RuleGroupMember), valProb("authority.member", RuleAuthority)}},
	})
}

func TestValidateAttachments(t *testing.T) {
	att := func(f func(a *Attachment)) func(*Statement) { return func(s *Statement) { f(&s.Attachments[0]) } }
	runValCases(t, []valCase{
		{name: "no fileUrl", mutate: att(func(a *Attachment) { a.FileURL = "" })},
		{name: "no description", mutate: att(func(a *Attachment) { a.Description = nil })},
		{name: "length zero", mutate: att(func(a *Attachment) { a.Length = 0 })},
		{name: "content type with parameter", mutate: att(func(a *Attachment) { a.ContentType = "text/plain; charset=utf-8" })},
		{name: "signature", mutate: att(func(a *Attachment) {
			a.UsageType = "http://adlnet.gov/expapi/attachments/signature"
			a.ContentType = "application/octet-stream"
			a.SHA2 = strings.Repeat("ab", 64)
		})},
		{name: "empty list", mutate: func(s *Statement) { s.Attachments = []Attachment{} },
			want: Problems{valProb("attachments", RuleRequired)}},
		{name: "everything missing", mutate: func(s *Statement) { s.Attachments = append(s.Attachments, Attachment{}) },
			want: Problems{
				valProb("attachments[1].usageType", RuleRequired),
				valProb("attachments[1].display", RuleRequired),
				valProb("attachments[1].contentType", RuleRequired),
				valProb("attachments[1].sha2", RuleRequired),
			}},
		{name: "usageType not IRI", mutate: att(func(a *Attachment) { a.UsageType = "certificate" }),
			want: Problems{valProb("attachments[0].usageType", RuleIRI)}},
		{name: "display empty", mutate: att(func(a *Attachment) { a.Display = LanguageMap{} }),
			want: Problems{valProb("attachments[0].display", RuleRequired)}},
		{name: "display bad tag", mutate: att(func(a *Attachment) { a.Display = LanguageMap{"a12345678": "x"} }),
			want: Problems{valProb(`attachments[0].display["a12345678"]`, RuleLanguageTag)}},
		{name: "description bad tag", mutate: att(func(a *Attachment) { a.Description = LanguageMap{"1en": "x"} }),
			want: Problems{valProb(`attachments[0].description["1en"]`, RuleLanguageTag)}},
		{name: "contentType not media type", mutate: att(func(a *Attachment) { a.ContentType = "pdf" }),
			want: Problems{valProb("attachments[0].contentType", RuleAttachment)}},
		{name: "length negative", mutate: att(func(a *Attachment) { a.Length = -1 }),
			want: Problems{valProb("attachments[0].length", RuleAttachment)}},
		{name: "sha2 not hex", mutate: att(func(a *Attachment) { a.SHA2 = "SGVsbG8gV29ybGQ=" }),
			want: Problems{valProb("attachments[0].sha2", RuleSHA2)}},
		{name: "fileUrl not IRL", mutate: att(func(a *Attachment) { a.FileURL = "cert.pdf" }),
			want: Problems{valProb("attachments[0].fileUrl", RuleIRL)}},
	})
}

func TestValidateSubStatement(t *testing.T) {
	runValCases(t, []valCase{
		{name: "valid", mutate: func(s *Statement) { valSub(s) }},
		{name: "agent object", mutate: func(s *Statement) {
			sub := valSub(s)
			sub.Object = &Actor{ObjectType: ObjectTypeAgent, Mbox: "mailto:bob@example.com"}
			sub.Context.Revision, sub.Context.Platform = "", ""
		}},
		{name: "StatementRef object", mutate: func(s *Statement) {
			sub := valSub(s)
			sub.Object = &StatementRef{ID: valUUID2}
			sub.Context = nil
		}},
		{name: "nested SubStatement", mutate: func(s *Statement) {
			sub := valSub(s)
			sub.Object = &SubStatement{Actor: s.Actor, Verb: s.Verb, Object: &Activity{ID: "https://example.com/a"}}
			sub.Context.Revision, sub.Context.Platform = "", ""
		}, want: Problems{valProb("object.object", RuleSubStatement)}},
		{name: "rules apply inside", mutate: func(s *Statement) {
			sub := valSub(s)
			sub.Actor = Actor{Name: "nobody"}
			sub.Verb.ID = "answered"
			sub.Result = &Result{Score: &Score{Scaled: valPtr(2.0)}}
			sub.Context = &Context{Registration: "r", Platform: "LearningFlow"}
			sub.Object = &StatementRef{ID: valUUID2}
			sub.Attachments = []Attachment{{UsageType: "x", Display: LanguageMap{"en": "x"}, ContentType: "text/plain", SHA2: valSHA2}}
			sub.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}, want: Problems{
			valProb("object.actor", RuleIFI),
			valProb("object.verb.id", RuleIRI),
			valProb("object.result.score.scaled", RuleScoreScaled),
			valProb("object.context.registration", RuleUUID),
			valProb("object.context.platform", RuleContextActivityOnly),
			valProb("object.timestamp", RuleTimestamp),
			valProb("object.attachments[0].usageType", RuleIRI),
		}},
		{name: "voided verb inside", mutate: func(s *Statement) {
			sub := valSub(s)
			sub.Verb = Verb{ID: VerbVoided}
		}, want: Problems{valProb("object.object", RuleVoiding)}},
		{name: "missing parts", mutate: func(s *Statement) {
			s.Object = &SubStatement{}
			s.Context = nil
		}, want: Problems{valProb("object.actor", RuleRequired), valProb("object.verb", RuleRequired), valProb("object.object", RuleRequired)}},
		{name: "contextAgents inside for 1.0.3", versions: []Version{V103}, mutate: func(s *Statement) {
			sub := valSub(s)
			sub.Context.ContextAgents = []ContextAgent{{Agent: Actor{Mbox: "mailto:jane@example.com"}}}
		}, want: Problems{valProb("object.context.contextAgents", RuleNotInVersion)}},
	})
}

func TestValidateReportsAll(t *testing.T) {
	s := valBase()
	s.ID = "x"
	s.Actor.Account.HomePage = ""
	s.Verb.Display["en_GB"] = "x"
	d := valDefinition(s)
	d.Choices[2].ID = "two"
	d.Scale = d.Choices
	s.Result.Score.Raw = valPtr(11.0)
	s.Context.Language = "??"
	s.Attachments[0].SHA2 = "x"
	s.Version = "0.95"
	want := Problems{
		valProb("id", RuleUUID),
		valProb("actor.account.homePage", RuleRequired),
		valProb(`verb.display["en_GB"]`, RuleLanguageTag),
		valProb("object.definition.choices[2].id", RuleComponentID),
		valProb("object.definition.scale", RuleInteractionComponents),
		valProb("object.definition.scale[2].id", RuleComponentID),
		valProb("result.score.raw", RuleScoreRaw),
		valProb("context.language", RuleLanguageTag),
		valProb("version", RuleVersion),
		valProb("attachments[0].sha2", RuleSHA2),
	}
	got := Validate(s, V200)
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Problem{}, "Message")); diff != "" {
		t.Errorf("Validate() problems mismatch (-want +got):\n%s", diff)
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	s := valBase()
	s.Verb.Display["bad tag"] = "x"
	before := valBase()
	before.Verb.Display["bad tag"] = "x"
	Validate(s, V103)
	if diff := cmp.Diff(before, s); diff != "" {
		t.Errorf("Validate() modified the statement (-before +after):\n%s", diff)
	}
}

func TestPathString(t *testing.T) {
	root := (*path)(nil)
	ctx := root.field("context")
	ca := ctx.field("contextActivities")
	parent := ca.field("parent")
	first := parent.at(0)
	id := first.field("id")
	ext := ctx.field("extensions")
	key := ext.key(`http://example.com/a"b`)
	tests := []struct {
		name string
		p    *path
		want string
	}{
		{name: "root", p: root, want: ""},
		{name: "field", p: &ctx, want: "context"},
		{name: "nested index", p: &id, want: "context.contextActivities.parent[0].id"},
		{name: "quoted key", p: &key, want: `context.extensions["http://example.com/a\"b"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.p.String()); diff != "" {
				t.Errorf("path.String() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateAllocations(t *testing.T) {
	s := valBase()
	allocs := testing.AllocsPerRun(100, func() {
		if ps := Validate(s, V103); len(ps) != 0 {
			t.Fatalf("Validate(valid) = %v", ps)
		}
	})
	if allocs != 0 {
		t.Errorf("Validate(valid statement) allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkValidate(b *testing.B) {
	b.Run("valid", func(b *testing.B) {
		s := valBase()
		b.ReportAllocs()
		for b.Loop() {
			if ps := Validate(s, V200); len(ps) != 0 {
				b.Fatal(ps)
			}
		}
	})
	b.Run("invalid", func(b *testing.B) {
		s := valBase()
		s.ID = "x"
		s.Verb.Display["en_GB"] = "x"
		s.Result.Score.Raw = valPtr(11.0)
		b.ReportAllocs()
		for b.Loop() {
			if ps := Validate(s, V200); len(ps) != 3 {
				b.Fatal(ps)
			}
		}
	})
}
