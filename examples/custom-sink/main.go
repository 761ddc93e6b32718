// Command custom-sink is an lrsbridge sink plugin that POSTs each batch of
// statements as NDJSON to a webhook URL. It is written only against the
// public SDK, the way a third party would write a plugin; see
// docs/writing-a-sink.md.
package main

import (
	"github.com/learningflow/lrsbridge/examples/custom-sink/webhook"
	"github.com/learningflow/lrsbridge/sdk"
)

func main() { sdk.Serve(webhook.Provider()) }
