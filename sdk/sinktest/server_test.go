package sinktest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// TestNewServer_stalledHandler checks that a server from NewServer closes
// at the end of a test although its handler stalls without reading the
// request body (with httptest.NewServer alone, Close waits for the handler
// forever). If it did not, this test would hang until the test timeout.
func TestNewServer_stalledHandler(t *testing.T) {
	reached := make(chan struct{})
	handlerDone := make(chan struct{})
	clientDone := make(chan error, 1)
	t.Run("stall", func(t *testing.T) {
		srv := sinktest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(handlerDone)
			close(reached)
			<-r.Context().Done() // never reads the body
		}))
		go func() {
			body := bytes.Repeat([]byte("x"), 4<<20) // more than the socket buffers
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader(body))
			if err != nil {
				clientDone <- err
				return
			}
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			clientDone <- err
		}()
		<-reached
	})
	select {
	case <-handlerDone: // the subtest's cleanup ended the handler
	default:
		t.Error("the stalled handler was still running after the server closed")
	}
	<-clientDone // the client got an answer or an error; it does not hang either
}
