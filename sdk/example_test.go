package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

// printSink is a sink that logs the size of each batch.
type printSink struct{}

func (printSink) Deliver(_ context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	sdk.Logger().Info("delivering", "statements", len(req.Statements))
	return sdk.DeliverResponse{}, nil
}

func (printSink) Close(context.Context) error { return nil }

// The main function of a plugin is one call to Serve. Run by a host, it
// serves until the host shuts it down; run by hand, it explains that it is a
// plugin and exits.
func ExampleServe() {
	sdk.Serve(sdk.ProviderFunc(func(_ context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
		if _, ok := req.Config["endpoint"].(string); !ok {
			return nil, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "endpoint", Message: "is required"}}}
		}
		return printSink{}, nil
	}))
}

// Sinks classify errors by wrapping them; the host reads the class back,
// also on the other side of the plugin boundary.
func ExampleRetryAfter() {
	err := sdk.RetryAfter(errors.New("lrs answered 429 Too Many Requests"), 30*time.Second)
	d, ok := sdk.RetryDelay(err)
	fmt.Println(sdk.ClassOf(err), d, ok)

	err = fmt.Errorf("deliver: %w", sdk.Unauthenticated(errors.New("lrs answered 401")))
	fmt.Println(sdk.ClassOf(err), sdk.IsAuth(err), sdk.IsPermanent(err))
	// Output:
	// retryable 30s true
	// unauthenticated true false
}
