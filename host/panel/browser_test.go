//go:build unix

package panel

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"golang.org/x/net/websocket"
)

// The browser test drives the settings panel in headless Chromium through
// the Chrome DevTools Protocol (CDP) over its websocket: no npm, no
// WebDriver. It needs Debian's chromium package (or LEARNINGFLOW_CHROMIUM
// naming a Chromium or Chrome binary). Without it the test is skipped,
// unless CI is set: then it fails. LEARNINGFLOW_SCREENSHOT=FILE.png saves a
// screenshot of the panel at the end.

// chromiumFlags are the flags that work in containers, also as root.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*",
	"--window-size=1280,1000",
}

// chromium returns the browser binary, or skips (fails under CI) the test.
func chromium(t *testing.T) string {
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

// startBrowser starts headless Chromium and connects to its first page.
func startBrowser(t *testing.T, ctx context.Context) *cdp {
	t.Helper()
	bin := chromium(t)
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
	return &cdp{ws: ws}
}

// cdp is a minimal Chrome DevTools Protocol client: one call at a time,
// events are skipped.
type cdp struct {
	ws   *websocket.Conn
	next int
}

func (c *cdp) call(ctx context.Context, method string, params, result any) error {
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
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(c.ws, &msg); err != nil {
			return fmt.Errorf("cdp %s: %w", method, err)
		}
		if msg.ID != id {
			continue // an event, or an answer to an abandoned call
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

// eval evaluates a JavaScript expression in the page (awaiting promises)
// and decodes its value into out.
func (c *cdp) eval(ctx context.Context, expr string, out any) error {
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
	err := c.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
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

// waitFor evaluates cond until it is true or ctx ends; then it fails with
// what and the page's form message.
func (c *cdp) waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	for {
		var ok bool
		err := c.eval(ctx, "Boolean("+cond+")", &ok)
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			var msg string
			_ = c.eval(context.Background(), `(document.getElementById("form-message")||{}).textContent`, &msg)
			t.Fatalf("waiting for %s: %v (last error %v); form message %q", what, ctx.Err(), err, msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// formState is what the test reads back from the page.
type formState struct {
	ReportOK     string `json:"reportOK"`
	AuthStatus   string `json:"authStatus"`
	AuthMessage  string `json:"authMessage"`
	Message      string `json:"message"`
	SaveDisabled bool   `json:"saveDisabled"`
}

const readForm = `(() => {
  const auth = document.querySelector('#report li[data-name="auth"]');
  return {
    reportOK: document.getElementById("report").dataset.ok || "",
    authStatus: auth ? auth.dataset.status : "",
    authMessage: auth ? auth.querySelector(".msg").textContent : "",
    message: document.getElementById("form-message").textContent,
    saveDisabled: document.getElementById("save-btn").disabled,
  };
})()`

// fill sets form fields as typing would, firing input events.
func fill(fields map[string]string) string {
	data, _ := json.Marshal(fields)
	return `(() => { for (const [id, v] of Object.entries(` + string(data) + `)) {
    const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("input", {bubbles: true})); }
  return true; })()`
}

func click(id string) string {
	return `document.getElementById(` + strconv.Quote(id) + `).click(), true`
}

// TestBrowserSetUpAndDelivery fills the LRS Set Up form in a real browser
// against a development LRS: a wrong secret fails Test Connection at the
// credentials step with its message and keeps Save disabled; the right one
// passes, Save enables and saves; then recorded events raise the delivered
// count that the page refreshes by itself.
func TestBrowserSetUpAndDelivery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lrs, endpoint := testLRS(t)
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
	}, &logs)
	srv := testPanel(t, h, &logs)
	page := startBrowser(t, ctx)

	if err := page.call(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/orgs/acme"}, nil); err != nil {
		t.Fatal(err)
	}
	page.waitFor(t, ctx, "the panel script", `window.lrsPanel && window.lrsPanel.ready`)

	t.Run("wrong secret", func(t *testing.T) {
		must(t, page.eval(ctx, fill(map[string]string{"label": "Acme LRS", "xapi_version": "1.0.3", "endpoint": endpoint, "key": testKey, "secret": "wrong-secret"}), nil))
		must(t, page.eval(ctx, click("test-btn"), nil))
		page.waitFor(t, ctx, "the test report", `document.getElementById("report").dataset.ok`)
		var got formState
		must(t, page.eval(ctx, readForm, &got))
		want := formState{
			ReportOK: "false", AuthStatus: "failed",
			AuthMessage:  "The LRS rejected the credentials: the API key or secret is wrong.",
			Message:      "The connection test failed: The LRS rejected the credentials: the API key or secret is wrong.",
			SaveDisabled: true,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page after a failing test mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("right secret, test and save", func(t *testing.T) {
		must(t, page.eval(ctx, fill(map[string]string{"secret": testSecret}), nil))
		must(t, page.eval(ctx, click("test-btn"), nil))
		page.waitFor(t, ctx, "a passing test", `document.getElementById("report").dataset.ok === "true"`)
		var got formState
		must(t, page.eval(ctx, readForm, &got))
		want := formState{ReportOK: "true", AuthStatus: "passed", AuthMessage: "The LRS accepts the key and secret.",
			Message: "The connection works. You can save.", SaveDisabled: false}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page after a passing test mismatch (-want +got):\n%s", diff)
		}

		// Changing a value after the test disables Save until it is tested again.
		must(t, page.eval(ctx, fill(map[string]string{"key": testKey + "x"}), nil))
		must(t, page.eval(ctx, readForm, &got))
		if !got.SaveDisabled {
			t.Errorf("Save stays enabled after the key changed")
		}
		must(t, page.eval(ctx, fill(map[string]string{"key": testKey}), nil))
		must(t, page.eval(ctx, readForm, &got))
		if got.SaveDisabled {
			t.Errorf("Save is disabled with the tested values back")
		}

		must(t, page.eval(ctx, click("save-btn"), nil))
		page.waitFor(t, ctx, "the save", `document.getElementById("form-message").textContent.startsWith("Saved.")`)
		page.waitFor(t, ctx, "the new integration in the table", `document.querySelector('#integrations-body tr[data-id="acme-lrs"]')`)
		page.waitFor(t, ctx, "its status row", `document.querySelector('#status-body tr[data-id="acme-lrs"]')`)
		var after struct {
			ID, Secret, Placeholder string
			HintShown, SecretInPage bool
		}
		must(t, page.eval(ctx, `({ID: document.getElementById("id").value, Secret: document.getElementById("secret").value,
			Placeholder: document.getElementById("secret").placeholder, HintShown: !document.getElementById("secret-hint").hidden,
			SecretInPage: document.documentElement.outerHTML.includes(`+strconv.Quote(testSecret)+`)})`, &after))
		wantAfter := struct {
			ID, Secret, Placeholder string
			HintShown, SecretInPage bool
		}{ID: "acme-lrs", Placeholder: "saved (leave empty to keep it)", HintShown: true}
		if diff := cmp.Diff(wantAfter, after); diff != "" {
			t.Errorf("form after saving mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("delivered count rises", func(t *testing.T) {
		var lines []string
		for i := range 5 {
			lines = append(lines, quizEvent("acme", fmt.Sprintf("browser-%d", i)))
		}
		var posted eventsResponse
		status, raw := call(t, ctx, http.MethodPost, srv.URL+"/events", "application/x-ndjson", strings.Join(lines, "\n"), &posted)
		if status != http.StatusOK || posted.Recorded != 5 {
			t.Fatalf("POST /events = %d: %s", status, raw)
		}
		cell := `Number((document.querySelector('#status-body tr[data-id="acme-lrs"] td.delivered') || {}).textContent)`
		page.waitFor(t, ctx, fmt.Sprintf("%d delivered statements on the page", posted.Statements), cell+` >= `+strconv.FormatInt(posted.Statements, 10))
		var state string
		must(t, page.eval(ctx, `document.querySelector('#status-body tr[data-id="acme-lrs"] .badge').textContent`, &state))
		if state != host.StateActive {
			t.Errorf("state on the page = %q, want %q", state, host.StateActive)
		}
		if lrs.Len() != int(posted.Statements) {
			t.Errorf("the LRS stored %d statements, want %d", lrs.Len(), posted.Statements)
		}
	})

	if path := os.Getenv("LEARNINGFLOW_SCREENSHOT"); path != "" {
		var shot struct {
			Data string `json:"data"`
		}
		must(t, page.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot))
		png, err := base64.StdEncoding.DecodeString(shot.Data)
		must(t, err)
		must(t, os.WriteFile(path, png, 0o644))
	}

	t.Run("add organization", func(t *testing.T) {
		idError := `document.querySelector('#org-form .field-error[data-field="id"]').textContent`
		iriError := `document.querySelector('#org-form .field-error[data-field="settings.base_iri"]').textContent`
		must(t, page.eval(ctx, `document.getElementById("add-org").open = true`, nil))
		must(t, page.eval(ctx, fill(map[string]string{"org-id": "acme", "org-base-iri": "https://acme.learningflow.example"}), nil))
		must(t, page.eval(ctx, click("org-add-btn"), nil))
		page.waitFor(t, ctx, "the error of an existing id", idError+` !== ""`)
		must(t, page.eval(ctx, fill(map[string]string{"org-id": "globex", "org-base-iri": "globex"}), nil))
		must(t, page.eval(ctx, click("org-add-btn"), nil))
		page.waitFor(t, ctx, "the base IRI's error", iriError+` !== ""`)
		var errs struct{ ID, IRI string }
		must(t, page.eval(ctx, `({ID: `+idError+`, IRI: `+iriError+`})`, &errs))
		if diff := cmp.Diff(struct{ ID, IRI string }{IRI: "not an absolute http or https IRI with a host"}, errs); diff != "" {
			t.Errorf("field errors of an invalid base IRI mismatch (-want +got):\n%s", diff)
		}

		must(t, page.eval(ctx, fill(map[string]string{"org-base-iri": "https://globex.learningflow.example"}), nil))
		must(t, page.eval(ctx, click("org-add-btn"), nil))
		page.waitFor(t, ctx, "the new organization's tab", `location.pathname === "/orgs/globex" && window.lrsPanel && window.lrsPanel.ready`)
		var tab string
		must(t, page.eval(ctx, `document.querySelector('nav a[aria-current="page"]').textContent`, &tab))
		if tab != "globex" {
			t.Errorf("current tab = %q, want globex", tab)
		}
		o, err := h.Org("globex")
		must(t, err)
		if o.Settings.BaseIRI != "https://globex.learningflow.example" {
			t.Errorf("base IRI of the new organization = %q", o.Settings.BaseIRI)
		}
	})

	if strings.Contains(logs.String(), testSecret) || strings.Contains(logs.String(), "wrong-secret") {
		t.Errorf("the logs hold a secret")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("timed out: %v", err)
		}
		t.Fatal(err)
	}
}
