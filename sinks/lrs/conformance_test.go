package lrs

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// TestConformance runs the sdk conformance kit against the sink, each
// scenario served by an lrstest LRS on loopback.
func TestConformance(t *testing.T) {
	// Instances that deliver share one LRS per test, so that a direct and a
	// remote instance configured by one check report the same endpoint.
	var mu sync.Mutex
	deliverURL := map[testing.TB]string{}
	sinktest.Run(t, sinktest.Harness{
		Provider:      NewProvider(),
		Egress:        loopbackPolicy,
		EgressSetting: KeyEndpoint,
		Timeout:       10 * time.Second,
		Config: func(t testing.TB, s sinktest.Scenario) map[string]any {
			var opts lrstest.Options
			var setup func(*lrstest.LRS)
			cfg := map[string]any{}
			switch s.Behavior {
			case sinktest.Deliver:
				mu.Lock()
				defer mu.Unlock()
				if u, ok := deliverURL[t]; ok {
					return baseConfig(u)
				}
				_, srv := newLRS(t, opts)
				deliverURL[t] = srv.URL + "/xapi/"
				return baseConfig(deliverURL[t])
			case sinktest.Reject:
				reject := s.Reject
				opts.Validate = func(b []byte, v xapi.Version) error {
					st, probs := xapi.Check(b, v)
					if err := probs.Err(); err != nil {
						return err
					}
					if slices.Contains(reject, st.ID) {
						return errors.New("statement rejected by the test")
					}
					return nil
				}
			case sinktest.FailRetryable:
				setup = func(l *lrstest.LRS) { l.Fail(lrstest.Fault{Status: 503, Times: 1000}) }
			case sinktest.FailRetryAfter:
				secs := strconv.Itoa(int(s.RetryAfter / time.Second))
				setup = func(l *lrstest.LRS) { l.Fail(lrstest.Fault{Status: 429, RetryAfter: secs, Times: 1000}) }
			case sinktest.FailUnauthenticated:
				cfg[KeySecret] = "not the secret"
			case sinktest.FailForbidden:
				opts.Credentials = []lrstest.Credential{{Key: testKey, Secret: testSecret, Access: lrstest.ReadOnly}}
			case sinktest.Stall:
				setup = func(l *lrstest.LRS) { l.SetLatency(time.Hour) }
			case sinktest.InvalidConfig:
				return map[string]any{KeyEndpoint: "ftp://lrs.example.com/", KeyXAPIVersion: "0.9"}
			default:
				return nil
			}
			l, srv := newLRS(t, opts)
			if setup != nil {
				setup(l)
			}
			m := baseConfig(srv.URL + "/xapi/")
			for k, v := range cfg {
				m[k] = v
			}
			return m
		},
	})
}
