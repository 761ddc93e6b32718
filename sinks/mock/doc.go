// Package mock is the mock sink of lrsbridge, for LearningFlow's testers: it
// records every delivered statement to a file a test can read back while
// the plugin runs, and it can be scripted through its configuration to
// answer like an LRS does (fail the first batches, ask to retry later,
// reject statements matching rules, refuse credentials, be slow) or to
// crash the plugin process on a given batch. See [Config] for the script
// and [ParseConfig] for the configuration keys.
//
// Package mocktest reads a recording back and compares it with expected
// statements.
package mock
