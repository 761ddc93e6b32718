package sdk

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
)

// TestBatchCodecMatchesProto checks that batchCodec puts on the wire what
// the protobuf encoding does, small messages and batch-sized ones alike,
// and reads it back; a message that is not protobuf is an error.
func TestBatchCodecMatchesProto(t *testing.T) {
	for _, n := range []int{0, 1, 100, 2000} {
		req := &sinkpb.DeliverRequest{Instance: "acme/lrs-1"}
		for i := range n {
			req.Statements = append(req.Statements, &sinkpb.Statement{
				Id:   strings.Repeat("a", 36),
				Json: []byte(`{"id":"` + strings.Repeat("b", 700+i%50) + `"}`),
			})
		}
		want, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := batchCodec{}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got := data.Materialize()
		if !bytes.Equal(want, got) {
			t.Fatalf("%d statements: batchCodec wrote %d bytes unlike proto.Marshal's %d", n, len(got), len(want))
		}
		var back sinkpb.DeliverRequest
		if err := (batchCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(want)}, &back); err != nil {
			t.Fatal(err)
		}
		data.Free()
		// proto.Equal: cmp with protocmp takes seconds over 2,000
		// statements of 700 bytes.
		if !proto.Equal(req, &back) {
			t.Fatalf("%d statements: read back a different request", n)
		}
	}
	if _, err := (batchCodec{}).Marshal("not a message"); err == nil {
		t.Error("Marshal of a string succeeded, want an error")
	}
	if err := (batchCodec{}).Unmarshal(nil, new(int)); err == nil {
		t.Error("Unmarshal into an int succeeded, want an error")
	}
}
