// Package bench compares lrsbridge's xAPI codec with other JSON libraries
// in benchmarks. It is a module of its own so that the libraries it
// compares against never join the requirements of lrsbridge's go.mod:
//
//	cd sdk/xapi/internal/bench && go test -run '^$' -bench . -benchmem
package bench
