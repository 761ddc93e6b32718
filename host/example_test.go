package host_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Embedding the host: load the configuration, start, record, shut down.
func Example() {
	cfg, err := host.LoadConfig("lrsbridge.yaml", nil)
	if err != nil {
		log.Fatal(err)
	}
	h, err := host.New(cfg, host.WithLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			log.Print(err) // what is left stays queued for the next start
		}
	}()

	// LearningFlow hands over events; the host turns them into statements.
	_, err = h.RecordEvent(context.Background(), host.Event{
		ID: "evt-000123", Org: "acme", Kind: "quiz.completed", Time: "2025-03-14T09:12:30Z",
		User:    &host.User{ID: "u-1842"},
		Payload: []byte(`{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":"att-88","score":7,"max_score":10,"pass_percent":60}`),
	})
	var refused *host.EventError
	if errors.As(err, &refused) {
		log.Printf("event %s refused at %s: %v", refused.EventID, refused.Field, refused.Err)
	}
}

// Building the configuration in code and checking it.
func ExampleConfig_Validate() {
	cfg := host.DefaultConfig()
	cfg.Queue.Sync = "sometimes"
	cfg.Orgs = map[string]host.OrgConfig{
		"acme": {Sinks: []host.SinkConfig{{Label: "Acme LRS", Plugin: "lrs"}}},
	}
	var ce *host.ConfigError
	if errors.As(cfg.Validate(), &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// queue.sync: is "sometimes", want "always", "group" or "none"
	// orgs.acme.base_iri: required
}

// Recording statements built in code, with deterministic ids.
func ExampleHost_Record() {
	var h *host.Host // from host.New
	st := &xapi.Statement{
		ID:     xapi.MustUUIDv5(xapi.NamespaceStatement, "acme/lesson-42/u-1842/completed"),
		Actor:  xapi.Actor{Account: &xapi.Account{HomePage: "https://acme.learningflow.example", Name: "u-1842"}},
		Verb:   xapi.Verb{ID: "http://adlnet.gov/expapi/verbs/completed", Display: xapi.LanguageMap{"en-US": "completed"}},
		Object: &xapi.Activity{ID: "https://acme.learningflow.example/lessons/42"},
	}
	if h == nil {
		return
	}
	if err := h.Record(context.Background(), "acme", st); errors.Is(err, host.ErrFull) {
		log.Print("queues are full; try again later")
	}
}
