//go:build unix

// Package paneltest drives a page in headless Chromium over the Chrome
// DevTools Protocol, for tests of the settings panel and of pages that embed
// it: start a browser, navigate, evaluate JavaScript, wait for a condition,
// and read the errors the page logged. It needs Debian's chromium package
// (or LEARNINGFLOW_CHROMIUM naming a Chromium or Chrome binary); without it
// the test is skipped, unless CI is set: then it fails.
package paneltest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromiumFlags are the flags that work in containers, also as root.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*",
	"--window-size=1280,1000",
}

// Chromium returns the browser binary, or skips the test (fails it when CI
// is set) when there is none.
func Chromium(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("LEARNINGFLOW_CHROMIUM"), "/usr/bin/chromium"}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if p != "" && isExecutable(p) {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but Chromium is not installed: the browser test needs Debian's chromium package (apt-get install -y chromium) or LEARNINGFLOW_CHROMIUM")
	}
	t.Skip("Chromium is not installed (apt-get install -y chromium, or set LEARNINGFLOW_CHROMIUM); skipping the browser test")
	return ""
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Start starts headless Chromium, connects to its first page and stops the
// browser when the test ends.
func Start(t testing.TB, ctx context.Context) *Page {
	t.Helper()
	bin := Chromium(t)
	profile := t.TempDir()
	cmd := exec.Command(bin, append(chromiumFlags, "--user-data-dir="+profile, "about:blank")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop its helpers with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		for sc.Scan() { // keep the pipe drained
		}
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-ctx.Done():
		t.Fatal("Chromium did not print its DevTools address")
	}
	// The page targets are listed over plain HTTP on the same port.
	hostPort := strings.TrimPrefix(browserURL, "ws://")
	hostPort = hostPort[:strings.IndexByte(hostPort, '/')]
	var pageWS string
	for pageWS == "" {
		var targets []struct {
			Type string `json:"type"`
			WS   string `json:"webSocketDebuggerUrl"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostPort+"/json/list", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("list Chromium's pages: %v", err)
		}
		err = json.NewDecoder(resp.Body).Decode(&targets)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("list Chromium's pages: %v", err)
		}
		for _, tg := range targets {
			if tg.Type == "page" {
				pageWS = tg.WS
				break
			}
		}
		if pageWS == "" {
			select {
			case <-ctx.Done():
				t.Fatal("Chromium has no page")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	ws, err := websocket.Dial(pageWS, "", "http://"+hostPort)
	if err != nil {
		t.Fatalf("connect to the page: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &Page{ws: ws}
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := c.Call(ctx, domain, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Page is a minimal Chrome DevTools Protocol client of one page: one call
// at a time, not safe for concurrent use. Of the events, it keeps the
// page's errors (see [Page.Problems]).
type Page struct {
	ws       *websocket.Conn
	next     int
	problems []string
}

// noteEvent keeps an event that reports an error of the page.
func (c *Page) noteEvent(method string, params json.RawMessage) {
	var p struct {
		Type             string `json:"type"`
		ExceptionDetails struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
		Entry struct {
			Source, Level, Text, URL string
		} `json:"entry"`
		Args []struct {
			Value any `json:"value"`
		} `json:"args"`
	}
	_ = json.Unmarshal(params, &p)
	switch {
	case method == "Runtime.exceptionThrown":
		c.problems = append(c.problems, "exception: "+p.ExceptionDetails.Text+" "+p.ExceptionDetails.Exception.Description)
	case method == "Runtime.consoleAPICalled" && (p.Type == "error" || p.Type == "assert"):
		c.problems = append(c.problems, fmt.Sprint("console.error: ", p.Args))
	case method == "Log.entryAdded" && p.Entry.Level == "error" && p.Entry.Source != "network":
		c.problems = append(c.problems, "log: "+p.Entry.Source+": "+p.Entry.Text+" "+p.Entry.URL)
	}
}

// Call sends a DevTools Protocol command and decodes its result into
// result (when not nil).
func (c *Page) Call(ctx context.Context, method string, params, result any) error {
	c.next++
	id := c.next
	if params == nil {
		params = struct{}{}
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.ws.SetDeadline(d)
	}
	if err := websocket.JSON.Send(c.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("cdp %s: %w", method, err)
	}
	for {
		var msg struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(c.ws, &msg); err != nil {
			return fmt.Errorf("cdp %s: %w", method, err)
		}
		if msg.Method != "" {
			c.noteEvent(msg.Method, msg.Params)
			continue
		}
		if msg.ID != id {
			continue // an answer to an abandoned call
		}
		if msg.Error != nil {
			return fmt.Errorf("cdp %s: %s", method, msg.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(msg.Result, result)
		}
		return nil
	}
}

// Eval evaluates a JavaScript expression in the page (awaiting promises)
// and decodes its value into out (when not nil).
func (c *Page) Eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := c.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
	if err != nil {
		return err
	}
	if res.Exception != nil {
		return fmt.Errorf("javascript: %s %s", res.Exception.Text, res.Exception.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

// WaitFor evaluates the JavaScript condition cond until it is true or ctx
// ends; then it fails the test with what and the page's form message.
func (c *Page) WaitFor(t testing.TB, ctx context.Context, what, cond string) {
	t.Helper()
	for {
		var ok bool
		err := c.Eval(ctx, "Boolean("+cond+")", &ok)
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			var msg string
			_ = c.Eval(context.Background(), `(document.getElementById("form-message")||{}).textContent`, &msg)
			t.Fatalf("waiting for %s: %v (last error %v); form message %q", what, ctx.Err(), err, msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Problems returns the errors the page logged so far: uncaught exceptions,
// console.error calls and log entries other than failed network requests
// (an API answering 4xx on purpose is not a problem of the page).
func (c *Page) Problems() []string { return append([]string(nil), c.problems...) }
