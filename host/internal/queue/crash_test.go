package queue

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashDirEnv makes the test binary run crashChild instead of the tests.
const crashDirEnv = "LRSBRIDGE_QUEUE_CRASH_DIR"

func TestMain(m *testing.M) {
	if os.Getenv(burnEnv) != "" {
		burn() // BenchmarkFsyncBesideCPU's computing processes
	}
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv("LRSBRIDGE_QUEUE_CRASH_ROUND"), crashOptions(os.Getenv("LRSBRIDGE_QUEUE_CRASH_ROUND")))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashKeys are the queues of the crash test: the first has a consumer, the
// second only grows.
var crashKeys = []Key{{"org-a", "lrs"}, {"org-b", "archive"}}

const crashProducers = 4

// crashOptions varies the store's options by round, so that the crash test
// covers both group-committing policies and a descriptor budget so small
// that files are closed and reopened between every use.
func crashOptions(round string) Options {
	opts := Options{SegmentBytes: 64 << 10}
	switch n, _ := strconv.Atoi(round); n % 3 {
	case 1:
		opts.Sync = SyncGroup
	case 2:
		opts.MaxOpenFiles = 1
	}
	return opts
}

// crashChild appends to the crash queues until it is killed, printing
//
//	durable <id>   after the Append holding id returned
//	taken <id>     before acknowledging id
//	acked <id>     after acknowledging id
//
// Producer p of round r appends ids r<r>-p<p>-<n> with n increasing, now
// and then three in one batch, alternating between the queues.
func crashChild(dir, round string, opts Options) {
	opts.Dir = dir
	s, err := Open(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var qs []Queue
	for _, k := range crashKeys {
		q, err := s.Queue(k.Org, k.Sink)
		if err != nil {
			fmt.Fprintln(os.Stderr, "queue:", err)
			os.Exit(2)
		}
		qs = append(qs, q)
	}
	var outMu sync.Mutex
	say := func(verb string, ids []string) {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(verb + " " + id + "\n")
		}
		outMu.Lock()
		os.Stdout.WriteString(b.String())
		outMu.Unlock()
	}
	ctx := context.Background()
	for p := range crashProducers {
		go func() {
			for n := 0; ; {
				var ids []string
				k := 1
				if n%7 == 0 {
					k = 3
				}
				for range k {
					ids = append(ids, fmt.Sprintf("r%s-p%d-%d", round, p, n))
					n++
				}
				if err := qs[n%2].Append(ctx, items(ids...)); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				say("durable", ids)
			}
		}()
	}
	for {
		es, err := qs[0].Next(ctx, 16, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(2)
		}
		say("taken", idsOf(es))
		if err := qs[0].Ack(seqsOf(es)...); err != nil {
			fmt.Fprintln(os.Stderr, "ack:", err)
			os.Exit(2)
		}
		say("acked", idsOf(es))
	}
}

// TestCrash kills a process appending to queues with SIGKILL at random
// moments (under each group-committing policy and with a tiny descriptor
// budget, see crashOptions) and checks what a restart finds: every id reported durable is
// there (or was acknowledged), nothing acknowledged comes back, and nothing
// appears that was not appended.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	seen := map[string]bool{} // every id found in any round
	prefilled := 0            // kills that left zeros ahead of the records
	for round := range 6 {
		durable, taken, acked := runCrashChild(t, dir, round)
		if t.Failed() {
			return
		}
		for _, k := range crashKeys {
			if zerosAhead(t, filepath.Join(dir, dirName(k.Org, k.Sink))) {
				prefilled++
			}
		}
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		found := map[string]bool{}
		for _, k := range crashKeys {
			q, err := s.Queue(k.Org, k.Sink)
			if err != nil {
				t.Fatalf("round %d: reopen queue %v: %v", round, k, err)
			}
			for _, id := range drain(t, q) {
				if found[id] || seen[id] {
					t.Errorf("round %d: %s found twice", round, id)
				}
				found[id] = true
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		missing, inAck := 0, 0
		for id := range taken {
			if !found[id] && !acked[id] {
				inAck++ // taken, then killed around its Ack
			}
		}
		if inAck > 16 {
			t.Errorf("round %d: %d taken entries neither acknowledged nor found, want at most one batch of 16", round, inAck)
		}
		for id := range durable {
			if !found[id] && !taken[id] {
				missing++
				if missing < 10 {
					t.Errorf("round %d: %s was reported durable and is gone", round, id)
				}
			}
		}
		for id := range acked {
			if found[id] {
				t.Errorf("round %d: %s was acknowledged and came back", round, id)
			}
		}
		// Each producer has at most one batch (three ids) in flight when
		// killed: what was found beyond its last reported id must be that.
		last := map[string]int{}
		for id := range durable {
			p, n := parseCrashID(t, id)
			last[p] = max(last[p], n)
		}
		extra := 0
		for id := range found {
			if !strings.HasPrefix(id, fmt.Sprintf("r%d-", round)) {
				continue // appended in an earlier round, after what it reported
			}
			p, n := parseCrashID(t, id)
			if _, ok := last[p]; ok && n > last[p]+3 || !ok && n > 2 {
				t.Errorf("round %d: %s found but never appended", round, id)
			}
			if !durable[id] {
				extra++
			}
		}
		for id := range found {
			seen[id] = true
		}
		t.Logf("round %d: %d durable, %d acked, %d found after the crash (%d appended but not reported)",
			round, len(durable), len(acked), len(found), extra)
	}
	t.Logf("%d of %d queues left by a kill ended in zeros ahead of their records", prefilled, 6*len(crashKeys))
	if prefilled == 0 {
		t.Error("no kill left a segment with zeros written ahead of its records: the crash test does not cover them")
	}
}

// zerosAhead reports whether the last segment of the queue in dir ends in
// zeros written ahead of its records.
func zerosAhead(t *testing.T, dir string) bool {
	t.Helper()
	segs := segments(t, dir)
	if len(segs) == 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, segs[len(segs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	end := recordsEnd(t, b)
	return end < len(b) && zeros(b[end:])
}

func parseCrashID(t *testing.T, id string) (string, int) {
	var r, p, n int
	if _, err := fmt.Sscanf(id, "r%d-p%d-%d", &r, &p, &n); err != nil {
		t.Fatalf("unexpected id %q", id)
	}
	return fmt.Sprintf("r%d-p%d", r, p), n
}

// runCrashChild runs crashChild on dir and kills it with SIGKILL after a
// random number of reports, returning what it reported.
func runCrashChild(t *testing.T, dir string, round int) (durable, taken, acked map[string]bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("LRSBRIDGE_QUEUE_CRASH_ROUND=%d", round))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	durable, taken, acked = map[string]bool{}, map[string]bool{}, map[string]bool{}
	killAt := 200 + rand.IntN(3000)
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	n := 0
	killed := false
	kill := func() {
		if !killed {
			killed = true
			cmd.Process.Kill() // SIGKILL
		}
	}
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				if !killed {
					t.Errorf("round %d: child exited early: %s", round, stderr.String())
				}
				return durable, taken, acked
			}
			verb, id, _ := strings.Cut(l, " ")
			switch verb {
			case "durable":
				durable[id] = true
			case "taken":
				taken[id] = true
			case "acked":
				acked[id] = true
			default:
				t.Errorf("round %d: child said %q", round, l)
			}
			if n++; n == killAt {
				time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
				kill()
			}
		case <-timeout:
			kill()
			t.Errorf("round %d: child did not report %d lines in time: %s", round, killAt, stderr.String())
		}
	}
}
