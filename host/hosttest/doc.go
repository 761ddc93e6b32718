// Package hosttest is what tests of a program that embeds the host use,
// and what lrsbridge's own tests of host, host/httpapi, host/panel,
// host/launch and the examples use: real plugin executables built once per
// test binary, a conformant Learning Record Store on loopback, a host
// configuration with fast delivery, and a host that stops with the test.
//
//   - [Plugins] builds plugins with "go build <module path>" into a
//     temporary directory, once per test binary, for parallel tests; its
//     Remove in TestMain deletes the directory.
//   - [StartLRS] serves the LRS of package sdk/lrsserver over memory on
//     127.0.0.1 with the credentials [LRSKey] and [LRSSecret]; [LRS.Len]
//     and [LRS.Statements] show what arrived, and [LRS.Refuse] scripts an
//     outage or a refusal until [LRS.Accept].
//   - [Config] is host.DefaultConfig made for tests: a temporary data
//     directory, no fsync, retries in milliseconds, loopback allowed.
//   - [New] starts a host and shuts it down when the test ends.
//
// An integration test of an embedder, from event to LRS, looks like this
// (example_test.go runs it):
//
//	var plugins hosttest.Plugins
//
//	func TestMain(m *testing.M) {
//		defer plugins.Remove()
//		m.Run()
//	}
//
//	func TestQuizReachesTheLRS(t *testing.T) {
//		lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
//		cfg := hosttest.Config(t, plugins.Dir(t, "lrs"))
//		acme := host.OrgConfig{Sinks: []host.SinkConfig{{ID: "lrs", Label: "Acme LRS", Plugin: "lrs",
//			Config: map[string]any{"xapi_version": "1.0.3", "endpoint": lrs.Endpoint, "key": hosttest.LRSKey, "secret": hosttest.LRSSecret}}}}
//		acme.BaseIRI = "https://acme.learningflow.example"
//		cfg.Orgs["acme"] = acme
//		h := hosttest.New(t, cfg)
//
//		stmts, err := h.RecordEvent(t.Context(), quizCompleted)
//		if err != nil || len(stmts) == 0 {
//			t.Fatalf("RecordEvent: %d statements, %v", len(stmts), err)
//		}
//		if err := h.WaitIdle(t.Context()); err != nil {
//			t.Fatal(err)
//		}
//		if lrs.Len() != len(stmts) {
//			t.Errorf("the LRS stores %d statements, want %d", lrs.Len(), len(stmts))
//		}
//	}
//
// The plugins are built by the go command in the test's working directory,
// from the lrsbridge source the test's module requires; nothing is
// downloaded beyond what "go test" itself needs. Everything the package
// starts listens on loopback only, and everything it creates is removed
// when the test (or, for Plugins, the test binary) ends.
package hosttest
