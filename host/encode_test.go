package host

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func TestEncodeItemsTagsAndSeparatesStatements(t *testing.T) {
	t.Parallel()
	withAgents := statement("acme", 2)
	withAgents.Context = &xapi.Context{ContextAgents: []xapi.ContextAgent{{Agent: xapi.Actor{Mbox: "mailto:b@example.com"}}}}
	sts := []*xapi.Statement{statement("acme", 1), withAgents}
	var want []queue.Item
	for _, st := range sts {
		b, err := xapi.Marshal(st, xapi.V200)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, queue.Item{ID: st.ID, Data: b})
	}
	want[0].Tag, want[1].Tag = delivery.TagSameForV103, delivery.TagNeedsV103

	buf := getBuffer()
	defer putBuffer(buf)
	*buf = append(*buf, "left over from an earlier call"...)
	got, _, err := encodeItems(buf, sts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	// Each item's data ends where it ends: appending to one never
	// overwrites the next.
	for i, it := range got {
		if cap(it.Data) != len(it.Data) {
			t.Errorf("item %d: capacity %d beyond its length %d", i, cap(it.Data), len(it.Data))
		}
	}
}
