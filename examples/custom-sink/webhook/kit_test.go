package webhook_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/examples/custom-sink/webhook"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// loopback lets instances reach the kit's test servers on 127.0.0.1 over
// plain http, which the egress policy refuses by default.
var loopback = sdk.EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	AllowHTTP:  true,
}

// scriptedServer starts a webhook receiver on loopback that answers as the
// scenario says, and returns its URL.
func scriptedServer(t testing.TB, s sinktest.Scenario) string {
	reject := map[string]bool{}
	for _, id := range s.Reject {
		reject[id] = true
	}
	srv := sinktest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.Behavior {
		case sinktest.Reject:
			sc := bufio.NewScanner(r.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var st struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(sc.Bytes(), &st); err != nil || reject[st.ID] {
					http.Error(w, "statement "+st.ID+" is invalid", http.StatusBadRequest)
					return
				}
			}
		case sinktest.FailRetryable:
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		case sinktest.FailRetryAfter:
			w.Header().Set("Retry-After", strconv.Itoa(int(s.RetryAfter/time.Second)))
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		case sinktest.FailUnauthenticated:
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		case sinktest.FailForbidden:
			http.Error(w, "not you", http.StatusForbidden)
			return
		case sinktest.Stall:
			// Never answer, without reading the body: the server made by
			// sinktest.NewServer ends the request when the test ends.
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return srv.URL
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Provider:      webhook.Provider(),
		Egress:        loopback,
		EgressSetting: "url", // the sink connects out to the URL in this setting
		Config: func(t testing.TB, s sinktest.Scenario) map[string]any {
			if s.Behavior == sinktest.InvalidConfig {
				return map[string]any{"url": "ftp://example.com/hook"}
			}
			return map[string]any{"url": scriptedServer(t, s), "token": "s3cret"}
		},
	})
}
