package host

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/sinks/mock"
)

// crashChildEnv makes the test binary the host of TestKillDuringReplayAndSCORM.
const crashChildEnv = "LRSBRIDGE_HOST_TEST_CRASH_CHILD"

// crashEvents is the number of SCORM calls of the crash test: attempts of
// five calls each.
const crashEvents = 150

// crashEvent returns SCORM call i of the crash test.
func crashEvent(i int) Event {
	calls := []struct{ call, cmi string }{
		{"Initialize", `{"entry":"ab-initio"}`},
		{"Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a","result":"correct"}]}`},
		{"Commit", `{"interactions":[{"id":"q1","type":"choice","learner_response":"a","result":"correct"},{"id":"q2","type":"choice","learner_response":"b","result":"incorrect"}],"score":{"scaled":"0.5"}}`},
		{"Commit", `{"completion_status":"completed","success_status":"passed","score":{"scaled":"1"}}`},
		{"Terminate", `{"completion_status":"completed","success_status":"passed","score":{"scaled":"1"},"exit":"","session_time":"PT3M"}`},
	}
	c := calls[i%len(calls)]
	return Event{ID: fmt.Sprintf("e-%d", i), Org: "acme", Kind: "scorm.runtime", User: &User{ID: "u-7"},
		Time: time.Date(2025, 3, 14, 9, 0, i, 0, time.UTC).Format(time.RFC3339),
		Payload: json.RawMessage(fmt.Sprintf(`{"version":"2004","package_id":"pkg","sco_id":"sco","attempt_id":"att-%d","call":%q,"cmi":%s}`,
			i/len(calls), c.call, c.cmi))}
}

// crashConfig is the configuration of the crash test's hosts.
func crashConfig(dataDir, pluginDir, rec string) Config {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Plugins.Dir = dataDir, pluginDir
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	cfg.Orgs = map[string]OrgConfig{}
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"latency": "2ms"}))
	return cfg
}

// runCrashChild replays the dead letters of acme in small chunks while it
// sends the SCORM calls from CRASH_FROM on, one by one, printing "A i ids"
// once call i was acknowledged (its statements durable), until it is
// killed.
func runCrashChild() int {
	from, _ := strconv.Atoi(os.Getenv("CRASH_FROM"))
	h, err := New(crashConfig(os.Getenv("CRASH_DATA_DIR"), os.Getenv("CRASH_PLUGINS"), os.Getenv("CRASH_RECORD")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	h.replay = deadletter.Chunk{Letters: 25, Bytes: 1 << 20} // so that kills land between chunks
	ctx := context.Background()
	go func() {
		if _, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{}); err != nil {
			fmt.Fprintln(os.Stderr, "replay:", err)
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	for i := from; i < crashEvents; i++ {
		sts, err := h.RecordEvent(ctx, crashEvent(i))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		ids := make([]string, len(sts))
		for k, st := range sts {
			ids[k] = st.ID
		}
		fmt.Fprintln(out, "A", i, strings.Join(ids, " "))
		out.Flush()
	}
	select {} // until killed
}

// pluginProcesses returns the pids of the processes running the
// executable exe.
func pluginProcesses(t *testing.T, exe string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if path, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && path == exe {
			out = append(out, pid)
		}
	}
	return out
}

// pluginsExitWithTheirHost says that a plugin process exits by itself when
// its host is killed (sdk.Serve watches its host): the crash test requires
// that no plugin process outlives its host. Set to false, it would kill the
// orphans itself and only report them.
const pluginsExitWithTheirHost = true

// reapOrphans waits for the plugin processes of a killed host to exit and
// returns how many had to be killed. With pluginsExitWithTheirHost, an
// orphan that does not exit within 20 s fails the test.
func reapOrphans(t *testing.T, exe string) int {
	t.Helper()
	if pluginsExitWithTheirHost {
		eventually(t, 20*time.Second, "the killed host's plugin processes to exit", func() bool {
			return len(pluginProcesses(t, exe)) == 0
		})
		return 0
	}
	left := pluginProcesses(t, exe)
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	eventually(t, 20*time.Second, "the orphans to die", func() bool {
		return len(pluginProcesses(t, exe)) == 0
	})
	return len(left)
}

// TestKillDuringReplayAndSCORM is the crash test of issue 11: the host is
// killed (SIGKILL) at random points while it replays dead letters and
// records SCORM calls, and restarted on the same data directory, several
// times. In the end no dead letter is lost (each was delivered), no SCORM
// statement that was acknowledged is lost, nothing was invented, and no
// plugin process outlives its host.
func TestKillDuringReplayAndSCORM(t *testing.T) {
	needsProcesses(t)
	if runtime.GOOS != "linux" {
		t.Skip("finds plugin processes through /proc")
	}
	t.Parallel()
	const letters, rounds = 400, 4
	// A copy of the mock plugin of its own, so that its processes are
	// this test's.
	pluginDir := t.TempDir()
	copyFile(t, filepath.Join(plugins(t), "mock"), filepath.Join(pluginDir, "mock"))
	exe := filepath.Join(pluginDir, "mock")
	dataDir, rec := t.TempDir(), filepath.Join(t.TempDir(), "r.ndjson")
	t.Cleanup(func() { // leave no process behind, whatever happened
		for _, pid := range pluginProcesses(t, exe) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	ctx := context.Background()

	// Dead letters to replay, as a host would have stored them.
	seeded := map[string]bool{}
	list := make([]deadletter.Letter, letters)
	for i := range list {
		st := statement("acme", 10_000+i)
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		list[i] = deadletter.Letter{Org: "acme", Sink: "mock", StatementID: st.ID, Class: DeadLetterRejected, Reason: "test", Statement: data}
		seeded[st.ID] = true
	}
	if err := deadletter.New(filepath.Join(dataDir, "deadletter")).Add(ctx, "acme", list); err != nil {
		t.Fatal(err)
	}

	orphans := 0
	acked := map[string]bool{} // SCORM statements acknowledged to the caller
	next := 0                  // the first call not acknowledged
	for round := 0; round < rounds && next < crashEvents; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_DATA_DIR="+dataDir, "CRASH_PLUGINS="+pluginDir,
			"CRASH_RECORD="+rec, "CRASH_FROM="+strconv.Itoa(next))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		read := func() bool {
			if !sc.Scan() {
				return false
			}
			f := strings.Fields(sc.Text())
			if len(f) < 2 || f[0] != "A" {
				t.Errorf("child printed %q", sc.Text())
				return true
			}
			i, _ := strconv.Atoi(f[1])
			next = i + 1
			for _, id := range f[2:] {
				acked[id] = true
			}
			return true
		}
		killAfter := 1 + rand.IntN(25)
		for n := 0; n < killAfter && read(); n++ {
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) // a random point within a call
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for read() { // acknowledged before the kill took effect
		}
		_ = cmd.Wait()
		orphans += reapOrphans(t, exe)
	}

	// The last restart finishes the replay and the SCORM calls.
	h, err := New(crashConfig(dataDir, pluginDir, rec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{}); err != nil {
		t.Fatal(err)
	}
	for i := next; i < crashEvents; i++ {
		if _, err := h.RecordEvent(ctx, crashEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, h, 60*time.Second)
	left, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d dead letters left after the last replay, want 0", len(left))
	}

	// What an uninterrupted run emits.
	ref := newHost(t, testConfigWith(t, filepath.Join(t.TempDir(), "ref.ndjson")), WithProvider("mock", mock.NewProvider()))
	all := map[string]bool{}
	for i := 0; i < crashEvents; i++ {
		sts, err := ref.RecordEvent(ctx, crashEvent(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			all[st.ID] = true
		}
	}

	delivered, _ := recordedIDs(t, rec)
	lostLetters, lostAcked, missing := 0, 0, 0
	for id := range seeded {
		if delivered[id] == 0 {
			lostLetters++
		}
	}
	for id := range acked {
		if delivered[id] == 0 {
			lostAcked++
		}
	}
	for id := range all {
		if delivered[id] == 0 {
			missing++
		}
	}
	for id := range delivered {
		if !seeded[id] && !all[id] {
			t.Errorf("delivered %s, which was never recorded", id)
		}
	}
	if lostLetters != 0 {
		t.Errorf("%d of %d dead letters lost", lostLetters, len(seeded))
	}
	if lostAcked != 0 {
		t.Errorf("%d of %d acknowledged SCORM statements lost", lostAcked, len(acked))
	}
	if n := len(pluginProcesses(t, exe)); n != 0 {
		t.Errorf("%d plugin processes left", n)
	}
	if orphans > 0 {
		t.Logf("%d plugin processes outlived their killed host and were killed by the test", orphans)
	}
	t.Logf("%d dead letters and %d SCORM statements (%d acknowledged before a kill) delivered; %d SCORM statements of calls interrupted by a kill not emitted",
		len(seeded), len(all), len(acked), missing)
}

// testConfigWith is testConfig with acme delivering to a mock recording
// into rec.
func testConfigWith(t *testing.T, rec string) Config {
	cfg := testConfig(t)
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	return cfg
}
