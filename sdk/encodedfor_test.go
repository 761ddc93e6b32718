package sdk_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// keepingSink keeps the statements it is given.
type keepingSink struct {
	mu  *sync.Mutex
	got *[]sdk.Statement
}

func (s keepingSink) Deliver(_ context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.got = append(*s.got, req.Statements...)
	return sdk.DeliverResponse{}, nil
}

func (keepingSink) Close(context.Context) error { return nil }

// TestStatementEncodedForReachesThePlugin delivers statements with and
// without the host's version mark over a real gRPC connection: the sink in
// the plugin sees each as the host sent it.
func TestStatementEncodedForReachesThePlugin(t *testing.T) {
	var mu sync.Mutex
	var got []sdk.Statement
	p := serveTestMode(t, sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return keepingSink{mu: &mu, got: &got}, nil
	}))
	ctx := testCtx(t)
	sink, err := p.Configure(ctx, sdk.ConfigureRequest{Instance: "acme/keep", Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	sent := []sdk.Statement{
		{ID: "a", JSON: []byte(`{"id":"a"}`)},
		{ID: "b", JSON: []byte(`{"id":"b"}`), EncodedFor: xapi.V103},
		{ID: "c", JSON: []byte(`{"id":"c"}`), EncodedFor: xapi.V200},
	}
	if _, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: sent}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(sent, got); diff != "" {
		t.Errorf("statements the plugin's sink got (-want +got):\n%s", diff)
	}
}
