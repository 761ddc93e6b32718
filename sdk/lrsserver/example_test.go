package lrsserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// Example serves an LRS over memory and stores, then reads, a bookmark in
// the State resource.
func Example() {
	srv := httptest.NewServer(lrsserver.New(lrsserver.NewMemoryStore(nil), lrsserver.Options{BasePath: "/xapi/"}))
	defer srv.Close()

	state := srv.URL + "/xapi/activities/state?activityId=https%3A%2F%2Fexample.com%2Fcourse" +
		"&agent=%7B%22mbox%22%3A%22mailto%3Ajane%40example.com%22%7D&stateId=bookmark"
	send := func(method, body string) (int, string) {
		req, _ := http.NewRequest(method, state, strings.NewReader(body))
		req.Header.Set("X-Experience-API-Version", "1.0.3")
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, _ := send(http.MethodPut, "slide-3")
	fmt.Println("PUT", status)
	status, body := send(http.MethodGet, "")
	fmt.Println("GET", status, body)
	// Output:
	// PUT 204
	// GET 200 slide-3
}
