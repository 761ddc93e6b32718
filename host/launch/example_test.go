package launch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// exampleHost stands in for *host.Host: one organization, statements
// recorded nowhere.
type exampleHost struct{}

func (exampleHost) RecordEvent(context.Context, host.Event) ([]*xapi.Statement, error) {
	return nil, nil
}

func (exampleHost) Record(context.Context, string, ...*xapi.Statement) error { return nil }

func (exampleHost) Org(id string) (host.OrgInfo, error) {
	return host.OrgInfo{ID: id, Settings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}}, nil
}

// Example issues a Tin Can launch and lets the package store its bookmark.
func Example() {
	ls, err := launch.New(exampleHost{}, launch.Config{
		Store:    lrsserver.NewMemoryStore(nil), // the default is a file store under Config.Dir
		Endpoint: "https://learn.acme.example/xapi/launch/",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ls.Close()
	l, err := ls.Launch(context.Background(), launch.Request{
		Org: "acme", User: host.User{ID: "u-1842"}, ActivityID: "https://acme.example/courses/biology-101",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(l.TinCanURL("https://learn.acme.example/content/biology/story.html"))
	var params []string
	for k := range u.Query() {
		params = append(params, k)
	}
	slices.Sort(params)
	fmt.Println(strings.Join(params, " "))
	fmt.Println(l.Actor)

	// The package stores its bookmark in the State resource.
	req := httptest.NewRequest(http.MethodPut, "/xapi/launch/activities/state?"+url.Values{
		"activityId": {l.ActivityID}, "agent": {l.Actor}, "registration": {l.Registration}, "stateId": {"bookmark"},
	}.Encode(), strings.NewReader("slide-3"))
	req.Header.Set("Authorization", l.Authorization)
	req.Header.Set("X-Experience-API-Version", "1.0.3")
	req.Header.Set("Content-Type", "text/plain")
	rec := httptest.NewRecorder()
	ls.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// activity_id actor auth endpoint registration
	// {"objectType":"Agent","account":{"homePage":"https://acme.learningflow.example","name":"u-1842"}}
	// 204
}
