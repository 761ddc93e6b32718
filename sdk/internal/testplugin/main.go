// Command testplugin serves the scripted sink as a plugin, for the
// acceptance tests and benchmarks of the SDK. It prints to stdout on
// purpose, before and after the handshake, to prove the SDK keeps the
// protocol intact.
package main

import (
	"fmt"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
)

func init() {
	fmt.Println("testplugin: a stray print before the handshake")
}

func main() {
	fmt.Println("testplugin: another stray print in main")
	sdk.Serve(scripted.Provider())
}
