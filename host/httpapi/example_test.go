package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

// An application mounts the API under its own prefix, behind an
// authorizer that maps its users to organizations (here: a header).
func ExampleNew() {
	dir, err := os.MkdirTemp("", "lrsbridge-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := host.DefaultConfig()
	cfg.DataDir = dir
	cfg.Orgs = map[string]host.OrgConfig{
		"acme":   {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
		"beacon": {OrgSettings: host.OrgSettings{BaseIRI: "https://beacon.learningflow.example"}},
	}
	h, err := host.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Shutdown(context.Background())

	adminOf := httpapi.AuthorizerFunc(func(r *http.Request, org string, _ httpapi.Action) error {
		if r.Header.Get("X-Admin-Of") != org {
			return httpapi.ErrForbidden
		}
		return nil
	})
	api, err := httpapi.New(h, httpapi.Options{Authorizer: adminOf, Prefix: "/admin/lrs/api"})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	for _, path := range []string{"/admin/lrs/api/orgs", "/admin/lrs/api/orgs/beacon/status"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Admin-Of", "acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	// Output:
	// 200 {"orgs":[{"id":"acme","integrations":0}]}
	// 403 {"error":{"code":"forbidden","message":"You may not see this organization's LRS settings."}}
}
