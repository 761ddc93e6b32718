// Command lrs is the generic xAPI LRS sink plugin of lrsbridge: it serves
// package sinks/lrs to a host, which starts it as a child process.
package main

import (
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs"
)

func main() {
	sdk.Serve(lrs.NewProvider())
}
