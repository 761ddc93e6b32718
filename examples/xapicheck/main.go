// Command xapicheck validates xAPI statements the way lrsbridge does before
// it sends them to an LRS. It is meant for testers and integrators who want
// to know whether a file of statements would be accepted.
//
// Usage:
//
//	xapicheck [-version 1.0.3|2.0.0] FILE|-
//
// The input is a JSON array of statements, a single statement or NDJSON (one
// statement per line). xapicheck prints one line per problem as
//
//	#INDEX PATH: RULE: MESSAGE
//
// where INDEX counts statements from 0 in input order, then a last line
// "N valid, M invalid". It exits 0 when every statement is valid, 1 when any
// is invalid and 2 when the input cannot be read.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs passed in, and returns the exit
// code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xapicheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", string(xapi.V103), "xAPI `version` to validate for: 1.0.3 or 2.0.0")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xapicheck [-version 1.0.3|2.0.0] FILE|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	v, err := xapi.ParseVersion(*version)
	if err != nil {
		fmt.Fprintln(stderr, "xapicheck:", err)
		return 2
	}
	data, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "xapicheck:", err)
		return 2
	}
	items, err := xapi.ParseStatements(data)
	if err != nil {
		var ps xapi.Problems
		if errors.As(err, &ps) {
			fmt.Fprintf(stderr, "xapicheck: %s: unreadable input: %v\n", fs.Arg(0), ps)
		} else {
			fmt.Fprintf(stderr, "xapicheck: %s: %v\n", fs.Arg(0), err)
		}
		return 2
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	valid, invalid := 0, 0
	for i, item := range items {
		_, probs := xapi.Check(item, v)
		if len(probs) == 0 {
			valid++
			continue
		}
		invalid++
		for _, p := range probs {
			fmt.Fprintf(out, "#%d %s\n", i, p)
		}
	}
	fmt.Fprintf(out, "%d valid, %d invalid\n", valid, invalid)
	if invalid > 0 {
		return 1
	}
	return 0
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}
