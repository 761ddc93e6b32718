package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

func TestEachUserSeesOnlyTheirOrganization(t *testing.T) {
	cfg := host.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Plugins.Dir = t.TempDir()
	cfg.Orgs = map[string]host.OrgConfig{}
	for _, id := range []string{"acme", "beacon"} {
		cfg.Orgs[id] = host.OrgConfig{OrgSettings: host.OrgSettings{BaseIRI: "https://" + id + ".learningflow.example"}}
	}
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	app, err := newApp(h, map[string]string{"alice": "acme", "bob": "beacon"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()

	type view struct {
		Page      string // where /admin/lrs/ leads after the login
		Orgs      []string
		Own, Else int // status codes of the own and the other organization's status
	}
	visit := func(user, own, other string) view {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.PostForm(srv.URL+"/login", url.Values{"user": {user}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		v := view{Page: resp.Request.URL.Path}
		resp, err = c.Get(srv.URL + "/admin/lrs/api/orgs")
		if err != nil {
			t.Fatal(err)
		}
		var orgs struct{ Orgs []httpapi.OrgView }
		_ = json.NewDecoder(resp.Body).Decode(&orgs)
		resp.Body.Close()
		for _, o := range orgs.Orgs {
			v.Orgs = append(v.Orgs, o.ID)
		}
		status := func(org string) int {
			resp, err := c.Get(srv.URL + "/admin/lrs/api/orgs/" + org + "/status")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		v.Own, v.Else = status(own), status(other)
		return v
	}
	tests := []struct {
		user, own, other string
		want             view
	}{
		{"alice", "acme", "beacon", view{Page: "/admin/lrs/orgs/acme", Orgs: []string{"acme"}, Own: http.StatusOK, Else: http.StatusForbidden}},
		{"bob", "beacon", "acme", view{Page: "/admin/lrs/orgs/beacon", Orgs: []string{"beacon"}, Own: http.StatusOK, Else: http.StatusForbidden}},
		{"mallory", "acme", "beacon", view{Page: "/admin/lrs/", Own: http.StatusUnauthorized, Else: http.StatusUnauthorized}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, visit(tt.user, tt.own, tt.other)); diff != "" {
				t.Errorf("what %s sees (-want +got):\n%s", tt.user, diff)
			}
		})
	}
}
