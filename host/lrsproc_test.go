package host

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/learningflow/lrsbridge/internal/procnice"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// lrsChildEnv makes the test binary an in-memory LRS process, so that
// benchmarks measure the host without the LRS's CPU and memory in its
// process.
const lrsChildEnv = "LRSBRIDGE_HOST_TEST_LRS"

// runLRSChild serves an in-memory LRS on loopback until its standard input
// closes. It prints the LRS's endpoint first; GET /count answers the
// number of statements stored.
func runLRSChild() int {
	lrs := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "k", Secret: "s"}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, lrs.Len())
	})
	// POST /hold returns once the requests being served are answered,
	// and makes later ones wait until POST /release: a benchmark stops and
	// restarts delivery without touching the host.
	var gate sync.RWMutex
	var held atomic.Bool
	mux.HandleFunc("POST /hold", func(w http.ResponseWriter, _ *http.Request) {
		if held.CompareAndSwap(false, true) {
			gate.Lock()
		}
	})
	mux.HandleFunc("POST /release", func(w http.ResponseWriter, _ *http.Request) {
		if held.CompareAndSwap(true, false) {
			gate.Unlock()
		}
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gate.RLock()
		defer gate.RUnlock()
		lrs.ServeHTTP(w, r)
	}))
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Printf("http://%s%s\n", ln.Addr(), lrs.BasePath())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// lrsProcess is an in-memory LRS in a process of its own.
type lrsProcess struct {
	endpoint string
	base     string
}

// newLRSProcess starts an LRS process that stops when the test ends.
func newLRSProcess(t testing.TB) *lrsProcess {
	t.Helper()
	return startLRSProcess(t, 0)
}

// startLRSProcess starts an LRS process, with its CPU priority lowered by
// nice (procnice), that stops when the test ends.
func startLRSProcess(t testing.TB, nice int) *lrsProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), lrsChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := procnice.Start(cmd, nice); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("LRS process: %v", err)
	}
	endpoint := strings.TrimSpace(line)
	u := strings.Index(endpoint[len("http://"):], "/")
	return &lrsProcess{endpoint: endpoint, base: endpoint[:len("http://")+u]}
}

// count returns the number of statements the LRS has stored.
func (p *lrsProcess) count(t testing.TB) int {
	t.Helper()
	resp, err := http.Get(p.base + "/count")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("LRS process count %q: %v", b, err)
	}
	return n
}

// hold makes the LRS answer nothing until release: delivery to it
// stops, with at most one call per sink instance waiting. It returns once
// the requests being served are answered.
func (p *lrsProcess) hold(t testing.TB) { p.post(t, "/hold") }

// release makes the LRS answer again.
func (p *lrsProcess) release(t testing.TB) { p.post(t, "/release") }

// post sends an empty POST to path of the LRS process.
func (p *lrsProcess) post(t testing.TB, path string) {
	t.Helper()
	resp, err := http.Post(p.base+path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("LRS process %s: %s", path, resp.Status)
	}
}
