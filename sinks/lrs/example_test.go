package lrs_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// A sink configured from the settings form delivers to an LRS. Here the LRS
// is an lrstest.LRS on loopback, which the egress policy must allow.
func ExampleNew() {
	l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "lf", Secret: "s3cret"}}})
	srv := httptest.NewServer(l)
	defer srv.Close()

	ctx := context.Background()
	sink, err := lrs.New(ctx, sdk.ConfigureRequest{
		Instance: "acme/lrs-1",
		Org:      "acme",
		Config: map[string]any{
			"label":        "Acme LRS",
			"xapi_version": "1.0.3",
			"endpoint":     srv.URL + "/xapi/statements", // pasted with the resource: trimmed
			"key":          "lf",
			"secret":       "s3cret",
		},
		Egress: sdk.EgressPolicy{
			AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			AllowHTTP:  true,
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sink.Close(ctx)

	id := "8f3b7f4e-5d0c-4c3e-9a55-1d2f3a4b5c6d"
	resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: []sdk.Statement{{
		ID: id,
		JSON: []byte(`{"id":"` + id + `","actor":{"objectType":"Agent","account":{"homePage":"https://learningflow.example","name":"42"}},` +
			`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},` +
			`"object":{"objectType":"Activity","id":"https://learningflow.example/courses/7"}}`),
	}}})
	fmt.Println(err, resp.Verdicts[0].Err, l.Len())
	fmt.Printf("%v\n", sink.Config().Secret)
	// Output:
	// <nil> <nil> 1
	// [redacted]
}

// The connection test reports each step for the settings page.
func ExampleSink_TestConnection() {
	l := lrstest.New(lrstest.Options{
		Versions:    []string{"1.0.3"},
		Credentials: []lrstest.Credential{{Key: "lf", Secret: "s3cret", Access: lrstest.WriteOnly}},
	})
	srv := httptest.NewServer(l)
	defer srv.Close()

	ctx := context.Background()
	sink, err := lrs.New(ctx, sdk.ConfigureRequest{
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": srv.URL + "/xapi", "key": "lf", "secret": "s3cret"},
		Egress: sdk.EgressPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowHTTP: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sink.Close(ctx)
	rep, err := sink.TestConnection(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range rep.Steps {
		fmt.Printf("%-7s %s\n", st.Name, st.Status)
	}
	fmt.Println("ok:", rep.OK())
	// Output:
	// url     warning
	// dns     passed
	// connect passed
	// tls     skipped
	// about   passed
	// auth    warning
	// ok: true
}
