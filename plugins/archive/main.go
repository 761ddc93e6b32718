// Command archive is the archive sink plugin of lrsbridge: it serves
// package sinks/archive to a host, which starts it as a child process.
package main

import (
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

func main() {
	sdk.Serve(archive.NewProvider())
}
