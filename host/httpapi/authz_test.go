package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
)

// adminHeader names the organization whose admin the test caller is.
const adminHeader = "X-Test-Admin-Of"

// adminsOf allows a caller every action on the organization its header
// names, and nothing else; no header is not logged in.
var adminsOf = AuthorizerFunc(func(r *http.Request, org string, _ Action) error {
	switch r.Header.Get(adminHeader) {
	case "":
		return ErrUnauthenticated
	case org:
		return nil
	}
	return ErrForbidden
})

// snapshot is everything of an organization the API could reveal or
// change.
type snapshot struct {
	Org          host.OrgInfo
	Integrations []host.IntegrationInfo
	Sinks        []host.SinkStatus
	DeadLetters  []string
	Recorded     string
}

func takeSnapshot(t *testing.T, h *host.Host, org, recording string) snapshot {
	t.Helper()
	var s snapshot
	var err error
	if s.Org, err = h.Org(org); err != nil {
		t.Fatal(err)
	}
	if s.Integrations, err = h.Integrations(org); err != nil {
		t.Fatal(err)
	}
	st, err := h.Status(org)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range st.Sinks {
		x.OldestAge, x.LastSuccess, x.LastErrorTime = 0, time.Time{}, time.Time{}
		s.Sinks = append(s.Sinks, x)
	}
	dls, err := h.DeadLetters(context.Background(), org, host.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dls {
		s.DeadLetters = append(s.DeadLetters, d.ID)
	}
	data, err := os.ReadFile(recording)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s.Recorded = string(data)
	return s
}

// TestAdminOfOneOrgNeverReachesAnother sends every route with every method,
// then random requests (paths, methods, bodies naming either
// organization), as the admin of acme aimed at beacon: none may succeed,
// and beacon's settings, integrations, status, dead letters and recording
// stay as they were.
func TestAdminOfOneOrgNeverReachesAnother(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	beacon := mockOrg("beacon", dir)
	beacon.Sinks = append(beacon.Sinks, host.SinkConfig{ID: "old", Label: "Old", Plugin: "mock",
		Config: map[string]any{"record_file": filepath.Join(dir, "old.ndjson"), "auth_fail": "unauthenticated"}})
	h := testHost(t, map[string]host.OrgConfig{"acme": mockOrg("acme", dir), "beacon": beacon})
	srv := serve(t, h, Options{Authorizer: adminsOf, Prefix: "/api"})
	root := newClient(t, srv, "/api")
	asBeacon := root.as(adminHeader, "beacon")
	var res EventsResponse
	asBeacon.do(http.MethodPost, "/events", ndjson(quizEvent("beacon", "b1")+"\n"+quizEvent("beacon", "b2")), &res)
	if res.Recorded != 2 {
		t.Fatalf("beacon's own events: %+v", res)
	}
	waitIdle(t, h, "beacon", "mock")
	if code, body := asBeacon.do(http.MethodDelete, "/orgs/beacon/integrations/old", nil, nil); code != http.StatusNoContent {
		t.Fatalf("beacon removes its integration: %d %s", code, body)
	}
	before := takeSnapshot(t, h, "beacon", filepath.Join(dir, "beacon.ndjson"))
	if len(before.DeadLetters) == 0 {
		t.Fatal("beacon has no dead letters to protect")
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	bodies := func() any {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return DeadLetterRequest{Sink: pick("mock", "old", ""), IDs: before.DeadLetters[:rng.IntN(len(before.DeadLetters)+1)], Into: pick("", "mock")}
		case 2:
			return lrsForm(pick("", "mock", "old"), pick("Mock", "X"), "http://127.0.0.1:1/xapi/", "k", pick("", "s"))
		case 3:
			return map[string]any{"settings": map[string]any{"base_iri": "https://evil.example"}}
		case 4:
			return ndjson(quizEvent("beacon", fmt.Sprint("x", rng.IntN(1000))) + "\n" + quizEvent(pick("acme", "beacon"), "y"))
		}
		return pick("{}", `{"org":"beacon"}`, "not json")
	}
	paths := func() []string {
		org := pick("beacon", "%62eacon", "BEACON/../beacon", "beacon%2f")
		id := pick("mock", "old", "acme")
		return []string{"/orgs/" + org, "/orgs/" + org + "/integrations", "/orgs/" + org + "/integrations/test",
			"/orgs/" + org + "/integrations/" + id, "/orgs/" + org + "/integrations/" + id + "/resume",
			"/orgs/" + org + "/status", "/orgs/" + org + "/deadletters", "/orgs/" + org + "/deadletters?sink=" + id,
			"/orgs/" + org + "/deadletters/replay", "/orgs/" + org + "/deadletters/purge"}
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}
	asAcme := root.as(adminHeader, "acme")
	callers := []*client{asAcme, root.as(adminHeader, "nobody"), root}
	successes := 0
	check := func(c *client, method, path string, body any) {
		t.Helper()
		var out json.RawMessage
		code, raw := c.do(method, path, body, &out)
		if code >= 200 && code < 300 {
			if path == "/events" && !strings.Contains(raw, `"org":"beacon","kind":"quiz.completed","status":"recorded"`) {
				return // acme's own lines were recorded; beacon's refused
			}
			successes++
			t.Errorf("%s %s as %q succeeded: %d %s", method, path, c.header.Get(adminHeader), code, raw)
		}
	}
	// Every route with every method, once.
	for _, p := range paths() {
		for _, m := range methods {
			check(asAcme, m, p, bodies())
		}
	}
	// Then random requests by every kind of caller.
	for range 300 {
		c := callers[rng.IntN(len(callers))]
		p := append(paths(), "/events")[rng.IntN(11)]
		check(c, methods[rng.IntN(len(methods))], p, bodies())
	}
	var orgs struct{ Orgs []OrgView }
	asAcme.do(http.MethodGet, "/orgs", nil, &orgs)
	if diff := cmp.Diff([]OrgView{{ID: "acme", Integrations: 1}}, orgs.Orgs); diff != "" {
		t.Errorf("organizations listed to acme's admin (-want +got):\n%s", diff)
	}
	if successes != 0 {
		t.Errorf("%d requests reached beacon as another organization's admin, want 0", successes)
	}
	after := takeSnapshot(t, h, "beacon", filepath.Join(dir, "beacon.ndjson"))
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("beacon changed (-before +after):\n%s", diff)
	}
	// The same requests work for beacon's admin: the refusals above are
	// the authorizer's, not broken routes.
	var st StatusView
	if code, _ := asBeacon.do(http.MethodGet, "/orgs/beacon/status", nil, &st); code != http.StatusOK || len(st.Integrations) != 1 {
		t.Errorf("beacon's admin reads its status: %d %+v", code, st)
	}
	var e ErrorBody
	if code, _ := root.do(http.MethodGet, "/orgs/beacon/status", nil, &e); code != http.StatusUnauthorized || e.Error.Code != "unauthenticated" {
		t.Errorf("status without login = %d %+v, want 401 unauthenticated", code, e)
	}
}

// waitIdle waits until an integration has nothing queued.
func waitIdle(t *testing.T, h *host.Host, org, id string) {
	t.Helper()
	eventually(t, org+"/"+id+" idle", func() bool {
		st, err := h.Status(org)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st.Sinks {
			if s.ID == id {
				return s.Queued == 0 && s.InFlight == 0
			}
		}
		return false
	})
}
