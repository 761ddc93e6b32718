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
	"testing"

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
	mux.Handle("/", lrs)
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
	if err := cmd.Start(); err != nil {
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
