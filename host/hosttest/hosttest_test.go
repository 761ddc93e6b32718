package hosttest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

// TestPluginsBuildOnce asks for a plugin from parallel goroutines: it is
// built once, into one directory, which Remove deletes.
func TestPluginsBuildOnce(t *testing.T) {
	var p hosttest.Plugins
	t.Cleanup(func() { p.Remove() })
	dirs := make([]string, 4)
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Go(func() { dirs[i] = p.Dir(t, "mock") })
	}
	wg.Wait()
	for _, d := range dirs[1:] {
		if d != dirs[0] {
			t.Fatalf("Dir returned %q and %q, want one directory", dirs[0], d)
		}
	}
	exe := filepath.Join(dirs[0], "mock")
	fi, err := os.Stat(exe)
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("no executable plugin %s: %v", exe, err)
	}
	// Asking again builds nothing: the executable stays the same file.
	if d := p.Dir(t, "mock"); d != dirs[0] {
		t.Errorf("second Dir = %q, want %q", d, dirs[0])
	}
	if again, err := os.Stat(exe); err != nil || !os.SameFile(fi, again) || !again.ModTime().Equal(fi.ModTime()) {
		t.Errorf("the plugin was built again (%v)", err)
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("the plugin directory is still there after Remove: %v", err)
	}
	if err := p.Remove(); err != nil {
		t.Errorf("a second Remove: %v", err)
	}
}

// TestLRS checks the credentials, storage and scripted refusals of the
// LRS.
func TestLRS(t *testing.T) {
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	if !strings.HasPrefix(lrs.Endpoint, "http://127.0.0.1:") || !strings.HasSuffix(lrs.Endpoint, "/xapi/") {
		t.Fatalf("Endpoint = %q, want an xAPI endpoint on 127.0.0.1", lrs.Endpoint)
	}
	const id = "2b1e5f8c-3a4d-4f6e-9b7c-1d2e3f4a5b6c"
	statement := `{"id":"` + id + `","actor":{"mbox":"mailto:learner@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://acme.learningflow.example/a/1"}}`
	type step struct {
		name        string
		do          func()
		method      string
		resource    string
		key, secret string
		want        int
	}
	steps := []step{
		{name: "about needs no credentials", method: http.MethodGet, resource: "about", want: http.StatusOK},
		{name: "no credentials", method: http.MethodGet, resource: "statements", want: http.StatusUnauthorized},
		{name: "a wrong secret", method: http.MethodPost, resource: "statements", key: hosttest.LRSKey, secret: "wrong", want: http.StatusUnauthorized},
		{name: "a statement stored", method: http.MethodPost, resource: "statements", key: hosttest.LRSKey, secret: hosttest.LRSSecret, want: http.StatusOK},
		{name: "POST refused with 400", do: func() { lrs.Refuse(http.MethodPost, http.StatusBadRequest) },
			method: http.MethodPost, resource: "statements", key: hosttest.LRSKey, secret: hosttest.LRSSecret, want: http.StatusBadRequest},
		{name: "GET still answered", method: http.MethodGet, resource: "statements", key: hosttest.LRSKey, secret: hosttest.LRSSecret, want: http.StatusOK},
		{name: "an outage of every method", do: func() { lrs.Refuse("", http.StatusServiceUnavailable) },
			method: http.MethodGet, resource: "statements", key: hosttest.LRSKey, secret: hosttest.LRSSecret, want: http.StatusServiceUnavailable},
		{name: "about during the outage", method: http.MethodGet, resource: "about", want: http.StatusOK},
		{name: "accepted again", do: lrs.Accept,
			method: http.MethodPost, resource: "statements", key: hosttest.LRSKey, secret: hosttest.LRSSecret, want: http.StatusOK},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		var body io.Reader
		if s.method == http.MethodPost {
			body = strings.NewReader(statement)
		}
		req, err := http.NewRequest(s.method, lrs.Endpoint+s.resource, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Experience-API-Version", "1.0.3")
		req.Header.Set("Content-Type", "application/json")
		if s.key != "" {
			req.SetBasicAuth(s.key, s.secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.want {
			t.Errorf("%s: %s %s = %d, want %d: %s", s.name, s.method, s.resource, resp.StatusCode, s.want, answer)
		}
	}
	// The resend after the refusal is the same statement: stored once.
	var ids []string
	for _, raw := range lrs.Statements() {
		var st struct{ ID string }
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.ID)
	}
	if diff := cmp.Diff([]string{id}, ids); diff != "" || lrs.Len() != 1 {
		t.Errorf("stored statements (Len %d) (-want +got):\n%s", lrs.Len(), diff)
	}
}

// TestLRSVersions checks that the LRS lists the versions it was given.
func TestLRSVersions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts hosttest.LRSOptions
		want []string
	}{
		{"default", hosttest.LRSOptions{}, []string{"1.0.3", "2.0.0"}},
		{"1.0.3 only", hosttest.LRSOptions{Versions: []string{"1.0.3"}}, []string{"1.0.3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lrs := hosttest.StartLRS(t, tc.opts)
			resp, err := http.Get(lrs.Endpoint + "about")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var about struct{ Version []string }
			if err := json.NewDecoder(resp.Body).Decode(&about); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, about.Version); diff != "" {
				t.Errorf("about versions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfig checks that the test configuration is valid and uses what it
// was given.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := hosttest.Config(t, dir)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if fi, err := os.Stat(cfg.DataDir); err != nil || !fi.IsDir() {
		t.Errorf("DataDir %q is not a directory: %v", cfg.DataDir, err)
	}
	got := struct {
		PluginDir string
		Orgs      int
		Linger    time.Duration
		KeySet    bool
	}{cfg.Plugins.Dir, len(cfg.Orgs), cfg.Delivery.Linger, cfg.Secrets.Key != ""}
	want := got
	want.PluginDir, want.Orgs, want.Linger, want.KeySet = dir, 0, 5*time.Millisecond, true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
	if bytes.Contains([]byte(cfg.Plugins.Dir), []byte(cfg.DataDir)) {
		t.Errorf("plugins under the data directory")
	}
}
