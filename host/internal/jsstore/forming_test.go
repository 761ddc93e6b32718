package jsstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterForming: the answers of a cluster still forming are retried
// while the host starts; any other error is not.
func TestClusterForming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}, true},
		{fmt.Errorf("wrapped: %w", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}), true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use with a different configuration"}, false},
		{errors.New("connection refused"), false},
	} {
		if got := clusterForming(tc.err); got != tc.want {
			t.Errorf("clusterForming(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
