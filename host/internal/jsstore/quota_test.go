package jsstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// TestQuotas: the organization quota (checked by the instance) and the
// total quota (the stream's size, enforced by the servers) refuse a whole
// Append with the documented error.
func TestQuotas(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	big := []byte(`{"pad":"` + strings.Repeat("x", 3000) + `"}`)
	tests := []struct {
		name  string
		org   int64 // MaxOrgMessages
		total int64 // MaxTotalBytes
		first []queue.Item
		then  []queue.Item
		quota queue.Quota
	}{
		{"org", 5, 64 << 20,
			[]queue.Item{{ID: "a", Data: []byte(`{}`)}, {ID: "b", Data: []byte(`{}`)}, {ID: "c", Data: []byte(`{}`)}},
			[]queue.Item{{ID: "d", Data: []byte(`{}`)}, {ID: "e", Data: []byte(`{}`)}, {ID: "f", Data: []byte(`{}`)}},
			queue.QuotaOrg},
		{"total", 0, 8 << 10,
			[]queue.Item{{ID: "a", Data: big}},
			[]queue.Item{{ID: "b", Data: big}, {ID: "c", Data: big}},
			queue.QuotaTotal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(srv.URL())
			cfg.MaxOrgMessages, cfg.MaxTotalBytes = tt.org, tt.total
			s := openStore(t, cfg)
			q1, err := s.Queue("acme", "lrs")
			if err != nil {
				t.Fatal(err)
			}
			q2, err := s.Queue("acme", "archive")
			if err != nil {
				t.Fatal(err)
			}
			if err := q1.Append(context.Background(), tt.first); err != nil {
				t.Fatal(err)
			}
			err = q2.Append(context.Background(), tt.then)
			var qe *queue.QuotaError
			if !errors.Is(err, queue.ErrFull) || !errors.As(err, &qe) || qe.Quota != tt.quota {
				t.Fatalf("Append past the %s quota = %v, want a %s QuotaError", tt.name, err, tt.quota)
			}
			if got := q2.Stats().Pending; got != 0 {
				t.Errorf("Pending of the refused queue = %d, want 0 (nothing stored)", got)
			}
		})
	}
}
