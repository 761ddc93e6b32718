package archive_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// The crash test runs the test binary itself as the writer process: with
// crashChildEnv set, TestMain runs crashChild instead of the tests.
const (
	crashChildEnv = "LRSBRIDGE_ARCHIVE_CRASH_CHILD"
	crashDirEnv   = "LRSBRIDGE_ARCHIVE_CRASH_DIR"
	crashRunEnv   = "LRSBRIDGE_ARCHIVE_CRASH_RUN"
	crashDayEnv   = "LRSBRIDGE_ARCHIVE_CRASH_DAY"
	crashResend   = "LRSBRIDGE_ARCHIVE_CRASH_RESEND"
	crashSeedEnv  = "LRSBRIDGE_ARCHIVE_CRASH_SEED"
	crashRotate   = 4096
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashBatch returns batch b of run: the ids are unique per (run, b, i).
func crashBatch(run, b int) []sdk.Statement {
	n := 1 + (run*7+b*13)%20
	out := make([]sdk.Statement, n)
	for i := range out {
		id := fmt.Sprintf("%08d-0000-4000-8000-%012d", run, b*100+i)
		out[i] = sdk.Statement{ID: id, JSON: []byte(`{"id":"` + id +
			`","actor":{"objectType":"Agent","mbox":"mailto:learner@example.com"},` +
			`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},` +
			`"object":{"objectType":"Activity","id":"https://example.com/course/` + strconv.Itoa(b) + `"}}`)}
	}
	return out
}

// crashChild appends batches until it is killed. It prints "begin R B"
// before delivering batch B of run R and "ok R B" once Deliver returned
// without error, and first resends the batch named by crashResend.
func crashChild() int {
	run, _ := strconv.Atoi(os.Getenv(crashRunEnv))
	day, err := time.Parse(time.RFC3339, os.Getenv(crashDayEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	s, err := archive.New("acme", archive.Config{Dir: os.Getenv(crashDirEnv), RotateBytes: crashRotate, Gzip: true},
		archive.WithClock(func() time.Time { return day }))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	send := func(r, b int) bool {
		fmt.Fprintf(os.Stdout, "begin %d %d\n", r, b)
		if _, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: crashBatch(r, b)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		fmt.Fprintf(os.Stdout, "ok %d %d\n", r, b)
		return true
	}
	if r, b, ok := strings.Cut(os.Getenv(crashResend), " "); ok {
		rr, _ := strconv.Atoi(r)
		bb, _ := strconv.Atoi(b)
		if !send(rr, bb) {
			return 4
		}
	}
	for b := 0; ; b++ {
		if !send(run, b) {
			return 4
		}
	}
}

// TestCrash kills a writer process with SIGKILL at random points, several
// times, and checks that every statement it reported delivered is in the
// archive exactly once, that no statement is there twice, and that every
// file verifies.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	if v := os.Getenv(crashSeedEnv); v != "" {
		// Replays a logged run.
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	days := []string{"2026-05-01T10:00:00Z", "2026-05-02T10:00:00Z", "2026-05-03T10:00:00Z", "2026-05-04T10:00:00Z"}
	const runs = 12
	acked := make(map[string]bool)
	resend := ""
	for run := range runs {
		day := days[run/3]
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir,
			crashRunEnv+"="+strconv.Itoa(run), crashDayEnv+"="+day, crashResend+"="+resend)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			br := bufio.NewReader(stdout)
			for {
				l, err := br.ReadString('\n')
				if strings.HasSuffix(l, "\n") {
					lines <- strings.TrimSuffix(l, "\n")
				}
				if err != nil {
					return
				}
			}
		}()
		killAfter := rng.IntN(40)
		var oks int
		var begun []string
		var last string
		record := func(l string) {
			f := strings.Fields(l)
			switch f[0] {
			case "begin":
				last = f[1] + " " + f[2]
			case "ok":
				r, _ := strconv.Atoi(f[1])
				b, _ := strconv.Atoi(f[2])
				for _, st := range crashBatch(r, b) {
					acked[st.ID] = true
				}
				last = ""
				oks++
			}
			begun = append(begun, l)
		}
		// Wait at least for the first "begin": the writer prints it only
		// after it opened (and locked) the archive, so the lock check below
		// and a kill with killAfter 0 both find a writer that holds it.
		for oks < killAfter || len(begun) == 0 {
			l, ok := <-lines
			if !ok {
				t.Fatalf("run %d: writer exited early: %v\n%s", run, cmd.Wait(), stderr.String())
			}
			record(l)
		}
		if run == 0 {
			// The writer holds the archive: another process may not open it.
			if s, err := archive.New("acme", archive.Config{Dir: dir, RotateBytes: crashRotate, Gzip: true}); !errors.Is(err, archive.ErrLocked) {
				if err == nil {
					s.Close(context.Background())
				}
				t.Errorf("New while another process writes = %v, want ErrLocked", err)
			}
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for l := range lines {
			record(l)
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("run %d: writer exited cleanly", run)
		}
		t.Logf("run %d (%s): killed after %d acknowledged batches, in flight %q", run, day[:10], oks, last)
		// The batch in flight is resent by the next writer when it belongs
		// to the same day (the duplicate guarantee is per day).
		resend = ""
		if last != "" && (run+1)/3 == run/3 {
			resend = last
		}
	}

	// Open once more in this process: the last crash is repaired here.
	s, err := archive.New("acme", archive.Config{Dir: dir, RotateBytes: crashRotate, Gzip: true},
		archive.WithClock(func() time.Time { return time.Date(2026, 5, 9, 0, 0, 0, 0, time.UTC) }))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: crashBatch(99, 0)}); err != nil {
		t.Fatalf("Deliver after reopen: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	counts := make(map[string]int)
	r, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Replay(context.Background(), "acme", time.Time{}, time.Time{}, func(rec archive.Record) error {
		counts[rec.ID]++
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	for id := range acked {
		if counts[id] != 1 {
			t.Errorf("acknowledged statement %s archived %d times, want 1", id, counts[id])
		}
	}
	for id, n := range counts {
		if n > 1 {
			t.Errorf("statement %s archived %d times", id, n)
		}
	}
	if len(acked) == 0 {
		t.Errorf("no batch was acknowledged; the test proves nothing")
	}

	// Every file on disk is accounted for: closed files in the manifest,
	// one open file for the last day, no temporaries.
	m, err := r.Manifest("acme")
	if err != nil {
		t.Fatal(err)
	}
	inManifest := make(map[string]bool)
	for _, e := range m.Files {
		inManifest[e.File] = true
	}
	entries, err := os.ReadDir(filepath.Join(dir, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "manifest.json" || name == ".lock" || inManifest[name]:
		case strings.HasPrefix(name, "2026-05-09.") && strings.HasSuffix(name, ".ndjson"):
			open = append(open, name)
		default:
			t.Errorf("unexpected file %s", name)
		}
	}
	if len(open) != 1 {
		t.Errorf("open files = %v, want one for 2026-05-09", open)
	}
	t.Logf("%d statements acknowledged, %d archived in %d closed files", len(acked), len(counts), len(m.Files))
}
