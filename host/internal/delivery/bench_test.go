package delivery

import (
	"testing"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// BenchmarkEncodeForV103 measures what a worker of an xAPI 1.0.3 instance
// does to each statement before sending it: with the tag recorded when the
// statement was queued (tagged), against the byte scan untagged entries
// still get (unchecked), in the same run.
func BenchmarkEncodeForV103(b *testing.B) {
	data := canonical(b, plainStatement)
	for _, tc := range []struct {
		name string
		tag  byte
	}{
		{"tagged", VersionTag(data)},
		{"unchecked", TagUnchecked},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := queue.Entry{Seq: 1, ID: "s", Data: data, Tag: tc.tag}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if out, _ := encode(e, xapi.V103); len(out) != len(data) {
					b.Fatalf("encoded %d bytes, want %d", len(out), len(data))
				}
			}
		})
	}
}
