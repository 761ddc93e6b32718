//go:build unix

package panel

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/host/panel/paneltest"
)

// TestBrowserPanel drives the panel in headless Chromium, as an admin
// would: a wrong secret, the right one (one click: saved and active, and
// statements reach the LRS), a version the LRS does not speak, an outage
// and its recovery, dead letters replayed, and the page at 400 px. The
// page must log no error.
func TestBrowserPanel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	endpoint := lrs.Endpoint
	oldEndpoint := hosttest.StartLRS(t, hosttest.LRSOptions{Versions: []string{"1.0.3"}}).Endpoint
	h := testHost(t, map[string]host.OrgConfig{"acme": org("acme")})
	const prefix = "/admin/lrs"
	srv := servePanel(t, h, prefix, httpapi.AllowAll())
	page := paneltest.Start(t, ctx)
	must(t, page.Call(ctx, "Page.navigate", map[string]any{"url": srv.URL + prefix + "/orgs/acme"}, nil))
	page.WaitFor(t, ctx, "the panel script", `window.lrsPanel && window.lrsPanel.ready`)

	var defaults struct{ Version, Auth, Icon string }
	must(t, page.Eval(ctx, `({Version: document.getElementById("xapi_version").value, Auth: document.getElementById("auth").value,
		Icon: document.querySelector('link[rel="icon"]').href})`, &defaults))
	if diff := cmp.Diff(struct{ Version, Auth, Icon string }{"1.0.3", "basic", srv.URL + prefix + "/static/favicon.svg"}, defaults); diff != "" {
		t.Errorf("form defaults (-want +got):\n%s", diff)
	}
	resp, err := http.Get(srv.URL + prefix + "/favicon.ico")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon = %d %s, want 200 image/svg+xml", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	t.Run("the chosen authentication shows its fields", func(t *testing.T) {
		visible := `[...document.querySelectorAll(".auth-fields")].filter(f => !f.hidden).map(f => f.dataset.auth)`
		for _, mode := range []string{"oauth2", "bearer", "basic"} {
			var shown []string
			must(t, page.Eval(ctx, `(() => { const s = document.getElementById("auth"); s.value = `+strconv.Quote(mode)+`;
				s.dispatchEvent(new Event("change", {bubbles: true})); return `+visible+`; })()`, &shown))
			if diff := cmp.Diff([]string{mode}, shown); diff != "" {
				t.Errorf("fields shown for %s (-want +got):\n%s", mode, diff)
			}
		}
	})

	t.Run("wrong secret: a clear message and nothing saved", func(t *testing.T) {
		must(t, page.Eval(ctx, fill(map[string]string{"label": "Acme LRS", "endpoint": endpoint, "key": hosttest.LRSKey, "secret": "wrong-secret"}), nil))
		must(t, page.Eval(ctx, click("test-btn"), nil))
		page.WaitFor(t, ctx, "the test report", `document.getElementById("report").dataset.ok`)
		got := readForm(t, ctx, page)
		want := formState{ReportOK: "false", AuthStatus: "failed",
			AuthMessage: "The LRS rejected the credentials: the API key or secret is wrong.",
			Message:     "Nothing was saved. Check the key and secret: The LRS rejected the credentials: the API key or secret is wrong."}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page after a failing test (-want +got):\n%s", diff)
		}
		if list, _ := h.Integrations("acme"); len(list) != 0 {
			t.Errorf("integrations after a failed test: %+v", list)
		}
	})

	t.Run("right secret: one click saves and activates", func(t *testing.T) {
		must(t, page.Eval(ctx, fill(map[string]string{"secret": hosttest.LRSSecret}), nil))
		must(t, page.Eval(ctx, click("test-btn"), nil))
		page.WaitFor(t, ctx, "the save", `document.getElementById("form-message").textContent.startsWith("Saved and active")`)
		got := readForm(t, ctx, page)
		want := formState{ReportOK: "true", AuthStatus: "passed", AuthMessage: "The LRS accepts the key and secret.",
			Message: "Saved and active. Statements of this organization now go to Acme LRS."}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page after saving (-want +got):\n%s", diff)
		}
		list, err := h.Integrations("acme")
		must(t, err)
		if len(list) != 1 || list[0].ID != "acme-lrs" {
			t.Fatalf("integrations after saving: %+v", list)
		}
		var after struct {
			ID, Placeholder         string
			HintShown, SecretInPage bool
		}
		must(t, page.Eval(ctx, `({ID: document.getElementById("id").value, Placeholder: document.getElementById("secret").placeholder,
			HintShown: !document.getElementById("secret-hint").hidden,
			SecretInPage: document.documentElement.outerHTML.includes(`+strconv.Quote(hosttest.LRSSecret)+`)})`, &after))
		if diff := cmp.Diff(struct {
			ID, Placeholder         string
			HintShown, SecretInPage bool
		}{ID: "acme-lrs", Placeholder: "saved (leave empty to keep it)", HintShown: true}, after); diff != "" {
			t.Errorf("form after saving (-want +got):\n%s", diff)
		}
		n := postEvents(t, srv.URL+prefix, "acme", "saved", 4)
		page.WaitFor(t, ctx, "the delivered count", deliveredCount("acme-lrs")+` >= `+strconv.Itoa(n))
		if lrs.Len() != n {
			t.Errorf("the LRS stored %d statements, want %d", lrs.Len(), n)
		}
		page.WaitFor(t, ctx, "the active state", stateText("acme-lrs")+` === "Active"`)
		if path := os.Getenv("LEARNINGFLOW_SCREENSHOT"); path != "" {
			must(t, os.WriteFile(path, screenshot(t, ctx, page), 0o644))
		}
	})

	t.Run("a version the LRS does not speak is not blamed on the credentials", func(t *testing.T) {
		must(t, page.Eval(ctx, click("new-btn"), nil))
		must(t, page.Eval(ctx, fill(map[string]string{"label": "Old LRS", "xapi_version": "2.0.0", "endpoint": oldEndpoint, "key": hosttest.LRSKey, "secret": hosttest.LRSSecret}), nil))
		must(t, page.Eval(ctx, click("test-btn"), nil))
		page.WaitFor(t, ctx, "the version advice", `document.getElementById("form-message").textContent.includes("speaks xAPI")`)
		var got struct{ About, Auth, Version, Message string }
		must(t, page.Eval(ctx, `({About: document.querySelector('#report li[data-name="about"]').dataset.status,
			Auth: document.querySelector('#report li[data-name="auth"]').dataset.status,
			Version: document.getElementById("xapi_version").value, Message: document.getElementById("form-message").textContent})`, &got))
		want := struct{ About, Auth, Version, Message string }{About: "failed", Auth: "passed", Version: "1.0.3",
			Message: "Nothing was saved. This LRS speaks xAPI 1.0.3, not 2.0.0: the xAPI Version is now set to 1.0.3. Press Test Connection again."}
		if got.Auth == "skipped" {
			want.Auth = "skipped" // the LRS refused the credentials check for the version: shown as not judged
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page after a version failure (-want +got):\n%s", diff)
		}
		if list, _ := h.Integrations("acme"); len(list) != 1 {
			t.Errorf("a failed test saved something: %+v", list)
		}
		must(t, page.Eval(ctx, click("new-btn"), nil))
	})

	t.Run("an outage in plain words, then recovery", func(t *testing.T) {
		lrs.Refuse("", http.StatusServiceUnavailable)
		n := postEvents(t, srv.URL+prefix, "acme", "outage", 3)
		page.WaitFor(t, ctx, "the outage on the page", `document.querySelector('#status-list li[data-id="acme-lrs"] .last-error')`)
		var during struct{ State, Text, Next, Error string }
		must(t, page.Eval(ctx, `(() => { const li = document.querySelector('#status-list li[data-id="acme-lrs"]');
			return {State: li.dataset.state, Text: li.querySelector(".badge").textContent, Next: li.querySelector(".next").textContent,
				Error: li.querySelector(".last-error p").textContent}; })()`, &during))
		text, next := httpapi.StateText(during.State)
		if during.State == host.StateActive || during.Text != text || during.Next != next || !strings.HasPrefix(during.Error, "Last error at ") {
			t.Errorf("page during the outage: %+v, want a failing state in plain words with the last error", during)
		}
		if strings.Contains(during.Text, "_") {
			t.Errorf("state shown as a raw name: %q", during.Text)
		}
		before := lrs.Len()
		lrs.Accept()
		page.WaitFor(t, ctx, "the recovery", stateText("acme-lrs")+` === "Active" && document.querySelector('#status-list li[data-id="acme-lrs"] .recovered') !== null && !document.querySelector('#status-list li[data-id="acme-lrs"] .last-error')`)
		page.WaitFor(t, ctx, "the queued statements delivered", `document.querySelector('#status-list li[data-id="acme-lrs"] .queued').textContent === "0"`)
		if lrs.Len() != before+n {
			t.Errorf("the LRS stored %d statements after the outage, want %d", lrs.Len(), before+n)
		}
	})

	t.Run("dead letters replayed", func(t *testing.T) {
		lrs.Refuse(http.MethodPost, http.StatusBadRequest)
		n := postEvents(t, srv.URL+prefix, "acme", "dead", 2)
		page.WaitFor(t, ctx, "the dead letters", `Number(document.getElementById("dead-total").textContent) === `+strconv.Itoa(n))
		lrs.Accept()
		before := lrs.Len()
		must(t, page.Eval(ctx, click("replay-all-btn"), nil))
		page.WaitFor(t, ctx, "the replay", `document.getElementById("dead-message").textContent === "Replayed `+strconv.Itoa(n)+`."`)
		page.WaitFor(t, ctx, "no dead letters left", `document.getElementById("dead-total").textContent === "0"`)
		waitFor(t, ctx, "replayed statements at the LRS", func() bool { return lrs.Len() == before+n })
	})

	t.Run("dead letters of a removed integration replayed into another one", func(t *testing.T) {
		spare := filepath.Join(t.TempDir(), "spare.ndjson")
		if _, err := h.SaveIntegration(ctx, "acme", host.Integration{Label: "Spare", Plugin: "mock", Config: map[string]any{"record_file": spare}}, host.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		lrs.Refuse("", http.StatusUnauthorized)
		n := postEvents(t, srv.URL+prefix, "acme", "orphan", 2)
		page.WaitFor(t, ctx, "the pause in plain words", stateText("acme-lrs")+` === "Paused: the LRS refused the credentials"`)
		var next string
		must(t, page.Eval(ctx, `document.querySelector('#status-list li[data-id="acme-lrs"] .next').textContent`, &next))
		if next != "Enter the new secret and test again." {
			t.Errorf("next step of a pause = %q", next)
		}
		must(t, page.Eval(ctx, `window.confirm = () => true, true`, nil))
		must(t, page.Eval(ctx, `document.querySelector('#integrations-body button.remove-btn[data-id="acme-lrs"]').click(), true`, nil))
		page.WaitFor(t, ctx, "the letters of the removed integration", `document.querySelectorAll('#dead-body tr[data-orphan="true"]').length === `+strconv.Itoa(n))
		must(t, page.Eval(ctx, click("replay-all-btn"), nil))
		page.WaitFor(t, ctx, "the advice to choose an integration", `document.getElementById("dead-message").textContent.includes("Choose an integration")`)
		must(t, page.Eval(ctx, `(() => { const s = document.getElementById("replay-into"); s.value = "spare"; return s.value === "spare"; })()`, nil))
		must(t, page.Eval(ctx, click("replay-all-btn"), nil))
		page.WaitFor(t, ctx, "the replay into Spare", `document.getElementById("dead-message").textContent === "Replayed `+strconv.Itoa(n)+`."`)
		// Spare got the statements once as they were recorded, and once more
		// from the replay.
		waitFor(t, ctx, "the letters delivered by Spare", func() bool {
			data, _ := os.ReadFile(spare)
			return strings.Count(string(data), "\n") == 2*n
		})
		lrs.Accept()
	})

	t.Run("usable at 400 px", func(t *testing.T) {
		must(t, page.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": true}, nil))
		must(t, page.Call(ctx, "Page.reload", map[string]any{}, nil))
		page.WaitFor(t, ctx, "the reloaded panel", `window.lrsPanel && window.lrsPanel.ready && document.getElementById("status-list").querySelector("li[data-id]")`)
		var layout struct {
			ScrollWidth, FormWidth int
			Unlabelled             []string
		}
		must(t, page.Eval(ctx, `({ScrollWidth: document.documentElement.scrollWidth,
			FormWidth: Math.round(document.getElementById("setup").getBoundingClientRect().right),
			Unlabelled: [...document.querySelectorAll("#lrs-form input:not([type=hidden]), #lrs-form select")].filter(e => e.labels.length === 0).map(e => e.id)})`, &layout))
		if layout.ScrollWidth > 400 || layout.FormWidth > 400 || len(layout.Unlabelled) > 0 {
			t.Errorf("layout at 400 px: %+v, want nothing wider than 400 px and every field labelled", layout)
		}
		shot := screenshot(t, ctx, page)
		img, err := png.DecodeConfig(bytes.NewReader(shot))
		must(t, err)
		if img.Width != 400 {
			t.Errorf("screenshot is %d px wide, want 400", img.Width)
		}
		path := os.Getenv("LEARNINGFLOW_SCREENSHOT_NARROW")
		if path == "" {
			path = filepath.Join(t.TempDir(), "panel-400.png")
		}
		must(t, os.WriteFile(path, shot, 0o644))
	})

	// Flush the events of the last calls, then look at the page's errors.
	must(t, page.Eval(ctx, "true", nil))
	if len(page.Problems()) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(page.Problems(), "\n"))
	}
}

// formState is what the test reads back from the form.
type formState struct {
	ReportOK    string `json:"reportOK"`
	AuthStatus  string `json:"authStatus"`
	AuthMessage string `json:"authMessage"`
	Message     string `json:"message"`
}

func readForm(t *testing.T, ctx context.Context, page *paneltest.Page) formState {
	t.Helper()
	var f formState
	must(t, page.Eval(ctx, `(() => {
  const auth = document.querySelector('#report li[data-name="auth"]');
  return {
    reportOK: document.getElementById("report").dataset.ok || "",
    authStatus: auth ? auth.dataset.status : "",
    authMessage: auth ? auth.querySelector(".msg").textContent : "",
    message: document.getElementById("form-message").textContent,
  };
})()`, &f))
	return f
}

func deliveredCount(id string) string {
	return `Number((document.querySelector('#status-list li[data-id="` + id + `"] .delivered') || {}).textContent)`
}

func stateText(id string) string {
	return `(document.querySelector('#status-list li[data-id="` + id + `"] .badge') || {}).textContent`
}

// postEvents posts n quiz events of org through the API and returns the
// number of statements they yielded.
func postEvents(t *testing.T, base, org, prefix string, n int) int {
	t.Helper()
	var lines []string
	for i := range n {
		lines = append(lines, quizEvent(org, fmt.Sprintf("%s-%d", prefix, i)))
	}
	resp, err := http.Post(base+"/api/events", "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")))
	must(t, err)
	defer resp.Body.Close()
	var res httpapi.EventsResponse
	must(t, json.NewDecoder(resp.Body).Decode(&res))
	if resp.StatusCode != http.StatusOK || res.Recorded != int64(n) {
		t.Fatalf("POST /api/events = %d %+v", resp.StatusCode, res)
	}
	return int(res.Statements)
}

func screenshot(t *testing.T, ctx context.Context, page *paneltest.Page) []byte {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	must(t, page.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot))
	data, err := base64.StdEncoding.DecodeString(shot.Data)
	must(t, err)
	return data
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
