// Command mock is the mock sink plugin of lrsbridge, for testing a host
// against scripted sink behaviour: it serves package sinks/mock and, when an
// instance is scripted with crash_on_batch, exits with status 2 on that
// batch.
package main

import (
	"os"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/mock"
)

func main() {
	sdk.Serve(mock.NewProvider(mock.WithCrash(func() { os.Exit(2) })))
}
