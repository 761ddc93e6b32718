package mock_test

import (
	"context"
	"fmt"
	"log"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sinks/mock"
)

// A mock instance scripted to fail its first batch with a Retry-After, and
// to reject statements with a given verb as an LRS answering 400 would.
func ExampleNewProvider() {
	ctx := context.Background()
	sink, err := mock.NewProvider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/mock", Org: "acme", Config: map[string]any{
		"fail_first":  float64(1),
		"retry_after": "30s",
		"reject": []any{
			map[string]any{"verb": "http://adlnet.gov/expapi/verbs/experienced", "message": "verb not accepted"},
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer sink.Close(ctx)
	batch := sdk.DeliverRequest{Statements: sinktest.Statements(1)}

	_, err = sink.Deliver(ctx, batch)
	delay, _ := sdk.RetryDelay(err)
	fmt.Println("batch 1:", sdk.ClassOf(err), delay)

	resp, err := sink.Deliver(ctx, batch)
	if err != nil {
		log.Fatal(err)
	}
	v := resp.Verdicts[0]
	fmt.Println("batch 2:", sdk.ClassOf(v.Err), v.Err)
	// Output:
	// batch 1: retryable 30s
	// batch 2: permanent verb not accepted
}
