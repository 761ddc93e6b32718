package archive_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// An organization's statements are archived with New and Deliver, and
// replayed later, for example to resend them to an LRS.
func Example() {
	dir, err := os.MkdirTemp("", "archive-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := archive.DefaultConfig()
	cfg.Dir = dir
	sink, err := archive.New("acme", cfg)
	if err != nil {
		log.Fatal(err)
	}
	const id = "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"
	st := sdk.Statement{ID: id, JSON: []byte(`{"id":"` + id + `","actor":{"objectType":"Agent","mbox":"mailto:learner@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"objectType":"Activity","id":"https://example.com/course/1"}}`)}
	ctx := context.Background()
	for range 2 {
		resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: []sdk.Statement{st}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("already stored:", resp.Verdicts != nil && resp.Verdicts[0].AlreadyStored)
	}
	if err := sink.Close(ctx); err != nil {
		log.Fatal(err)
	}

	r, err := archive.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	err = r.Replay(ctx, "acme", time.Time{}, time.Time{}, func(rec archive.Record) error {
		fmt.Println("replayed", rec.ID, "line", rec.Line)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// already stored: false
	// already stored: true
	// replayed 6690e6c9-3ef0-4ed3-8b37-7f3964730bee line 1
}

// The plugin's provider reads the configuration map a host sends.
func ExampleParseConfig() {
	cfg, err := archive.ParseConfig(map[string]any{"dir": "/var/lib/lrsbridge/archive", "rotate_bytes": float64(64 << 20)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Dir, cfg.RotateBytes, cfg.Gzip)

	_, err = archive.ParseConfig(map[string]any{"dir": "", "gzip": "maybe"})
	fmt.Println(err)
	// Output:
	// /var/lib/lrsbridge/archive 67108864 true
	// invalid sink configuration: gzip: must be true or false; dir: is required
}
