package lrstest

import (
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// ScenarioSink describes, for [Scenarios], a sink that delivers to an LRS
// with Basic credentials.
type ScenarioSink struct {
	// Key and Secret are the credentials the LRSs accept.
	Key, Secret string
	// Config returns the sink's configuration for the LRS at endpoint (the
	// LRS's xAPI base URL, with a trailing slash) with the credentials
	// above.
	Config func(endpoint string) map[string]any
	// SecretSetting is the configuration key of the secret, replaced by a
	// wrong one for sinktest.FailUnauthenticated.
	SecretSetting string
	// Invalid is a configuration the sink must refuse, for
	// sinktest.InvalidConfig.
	Invalid map[string]any
}

// Scenarios returns a [sinktest.Harness] Config function for a sink that
// talks to an LRS: each scenario gets an LRS of this package on loopback
// that behaves as the scenario says (503s, 429 with Retry-After, rejected
// statements, a read-only key, a stalled answer), closed at the test's end.
// Instances that deliver share one LRS per test, so that a direct and a
// remote instance configured by one check report the same endpoint.
func Scenarios(s ScenarioSink) func(testing.TB, sinktest.Scenario) map[string]any {
	var mu sync.Mutex
	deliverURL := map[testing.TB]string{}
	serve := func(t testing.TB, opts Options) (*LRS, string) {
		if opts.Credentials == nil {
			opts.Credentials = []Credential{{Key: s.Key, Secret: s.Secret}}
		}
		l := New(opts)
		srv := httptest.NewServer(l)
		t.Cleanup(srv.Close)
		return l, srv.URL + DefaultBasePath
	}
	return func(t testing.TB, sc sinktest.Scenario) map[string]any {
		var opts Options
		var setup func(*LRS)
		override := map[string]any{}
		switch sc.Behavior {
		case sinktest.Deliver:
			mu.Lock()
			defer mu.Unlock()
			if u, ok := deliverURL[t]; ok {
				return s.Config(u)
			}
			_, u := serve(t, opts)
			deliverURL[t] = u
			return s.Config(u)
		case sinktest.Reject:
			reject := sc.Reject
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
			setup = func(l *LRS) { l.Fail(Fault{Status: 503, Times: 1000}) }
		case sinktest.FailRetryAfter:
			secs := strconv.Itoa(int(sc.RetryAfter / time.Second))
			setup = func(l *LRS) { l.Fail(Fault{Status: 429, RetryAfter: secs, Times: 1000}) }
		case sinktest.FailUnauthenticated:
			override[s.SecretSetting] = "not the secret"
		case sinktest.FailForbidden:
			opts.Credentials = []Credential{{Key: s.Key, Secret: s.Secret, Access: ReadOnly}}
		case sinktest.Stall:
			setup = func(l *LRS) { l.SetLatency(time.Hour) }
		case sinktest.InvalidConfig:
			return s.Invalid
		default:
			return nil
		}
		l, u := serve(t, opts)
		if setup != nil {
			setup(l)
		}
		m := s.Config(u)
		for k, v := range override {
			m[k] = v
		}
		return m
	}
}
