package sdk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// deliverRoundTrip encodes sts as a host does and decodes them as a plugin
// does.
func deliverRoundTrip(t *testing.T, sts []Statement) []Statement {
	t.Helper()
	b, err := proto.Marshal(&sinkpb.DeliverRequest{Instance: "acme/lrs-1", Statements: statementsToProto(sts)})
	if err != nil {
		t.Fatal(err)
	}
	var pb sinkpb.DeliverRequest
	if err := proto.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	return statementsFromProto(pb.GetStatements())
}

func TestStatementEncodedForRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   xapi.Version
		want xapi.Version
	}{
		{"unchecked", "", ""},
		{"1.0.3", xapi.V103, xapi.V103},
		{"2.0.0", xapi.V200, xapi.V200},
		// A version the protocol does not name is not a check.
		{"unknown version", "9.9.9", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []Statement{{ID: "s1", JSON: []byte(`{"id":"s1"}`), EncodedFor: tc.in}}
			want := []Statement{{ID: "s1", JSON: []byte(`{"id":"s1"}`), EncodedFor: tc.want}}
			if diff := cmp.Diff(want, deliverRoundTrip(t, in)); diff != "" {
				t.Errorf("statements after the wire (-want +got):\n%s", diff)
			}
		})
	}
}

// olderStatement returns the descriptor of the Statement message as a
// plugin or host built before encoded_for knows it: the current file with
// the field and its enum removed.
func olderStatement(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	fd := protodesc.ToFileDescriptorProto(sinkpb.File_sink_v1_sink_proto)
	for _, m := range fd.GetMessageType() {
		if m.GetName() != "Statement" {
			continue
		}
		var kept []*descriptorpb.FieldDescriptorProto
		for _, f := range m.GetField() {
			if f.GetName() != "encoded_for" {
				kept = append(kept, f)
			}
		}
		if len(kept) == len(m.GetField()) {
			t.Fatal("Statement has no field encoded_for")
		}
		m.Field = kept
	}
	var enums []*descriptorpb.EnumDescriptorProto
	for _, e := range fd.GetEnumType() {
		if e.GetName() != "XAPIVersion" {
			enums = append(enums, e)
		}
	}
	fd.EnumType = enums
	fd.Name = proto.String("sink/v1/sink_older.proto")
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.Messages().ByName("Statement")
}

// TestStatementEncodedForWithOlderPeers checks both directions of
// compatibility on the wire: a plugin built before encoded_for reads a
// newer host's statement (the field is skipped as unknown), and a newer
// plugin reads an older host's statement as not checked, so the sink falls
// back to its own check.
func TestStatementEncodedForWithOlderPeers(t *testing.T) {
	older := olderStatement(t)

	t.Run("newer host, older plugin", func(t *testing.T) {
		b, err := proto.Marshal(&sinkpb.Statement{Id: "s1", Json: []byte(`{"id":"s1"}`), EncodedFor: sinkpb.XAPIVersion_XAPI_VERSION_1_0_3})
		if err != nil {
			t.Fatal(err)
		}
		msg := dynamicpb.NewMessage(older)
		if err := proto.Unmarshal(b, msg); err != nil {
			t.Fatalf("an older plugin cannot read the statement: %v", err)
		}
		got := map[string]string{
			"id":   msg.Get(older.Fields().ByName("id")).String(),
			"json": string(msg.Get(older.Fields().ByName("json")).Bytes()),
		}
		if diff := cmp.Diff(map[string]string{"id": "s1", "json": `{"id":"s1"}`}, got); diff != "" {
			t.Errorf("what an older plugin reads (-want +got):\n%s", diff)
		}
		if len(msg.GetUnknown()) == 0 {
			t.Error("the older plugin did not see encoded_for as an unknown field; the test proves nothing")
		}
	})

	t.Run("older host, newer plugin", func(t *testing.T) {
		msg := dynamicpb.NewMessage(older)
		msg.Set(older.Fields().ByName("id"), protoreflect.ValueOfString("s1"))
		msg.Set(older.Fields().ByName("json"), protoreflect.ValueOfBytes([]byte(`{"id":"s1"}`)))
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		var pb sinkpb.Statement
		if err := proto.Unmarshal(b, &pb); err != nil {
			t.Fatal(err)
		}
		got := statementsFromProto([]*sinkpb.Statement{&pb})
		want := []Statement{{ID: "s1", JSON: []byte(`{"id":"s1"}`)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("what a newer plugin reads from an older host (-want +got):\n%s", diff)
		}
	})
}
