package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

func TestRecordDeliversEveryStatementOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "acme.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	h := newHost(t, cfg)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := h.Record(ctx, "acme", statements("acme", i*25, 25)...); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	waitIdle(t, h, 30*time.Second)
	ids, _ := recordedIDs(t, rec)
	if len(ids) != 250 {
		t.Fatalf("delivered %d distinct statements, want 250", len(ids))
	}
	for i := 0; i < 250; i++ {
		id := statement("acme", i).ID
		if ids[id] != 1 {
			t.Errorf("statement %d delivered %d times, want once", i, ids[id])
		}
	}
	s := sinkStatus(t, h, "acme", "mock")
	if s.Delivered != 250 || s.Queued != 0 || s.State != StateActive {
		t.Errorf("status = %+v, want 250 delivered, none queued, active", s)
	}
}

func TestRecordRefusesInvalidStatementsWithPath(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	h := newHost(t, cfg)
	bad := statement("acme", 2)
	bad.Object = &xapi.Activity{ID: "not an iri"}
	err := h.Record(context.Background(), "acme", statement("acme", 1), bad)
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("Record error = %v, want *RecordError", err)
	}
	if re.Index != 1 || len(re.Problems) == 0 || re.Problems[0].Path != "object.id" {
		t.Errorf("RecordError = %+v, want index 1 with a problem at object.id", re)
	}
	if st := sinkStatus(t, h, "acme", "mock"); st.Queued != 0 {
		t.Errorf("%d statements queued after a refused call, want 0", st.Queued)
	}
	if err := h.Record(context.Background(), "nobody", statement("x", 1)); !errors.Is(err, ErrOrgUnknown) {
		t.Errorf("Record for unknown org = %v, want ErrOrgUnknown", err)
	}
}

func TestPermanentRejectionsAreDeadLetteredAndReplayable(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	victim := statement("acme", 3)
	rule := map[string]any{"id": victim.ID, "message": "statement conflicts with stored data"}
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"reject": []any{rule}}))
	h := newHost(t, cfg)
	ctx := context.Background()
	if err := h.Record(ctx, "acme", statements("acme", 0, 10)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	ids, _ := recordedIDs(t, rec)
	if len(ids) != 9 || ids[victim.ID] != 0 {
		t.Fatalf("delivered %d statements (victim %d times), want the 9 others", len(ids), ids[victim.ID])
	}
	dls, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].StatementID != victim.ID || dls[0].Class != DeadLetterRejected ||
		!strings.Contains(dls[0].Reason, "statement conflicts with stored data") || dls[0].Sink != "mock" {
		t.Fatalf("dead letters = %+v, want the victim, rejected with the sink's message", dls)
	}
	if st := sinkStatus(t, h, "acme", "mock"); st.DeadLettered != 1 || st.DeadLetters != 1 || st.State != StateActive {
		t.Errorf("status = %+v, want one dead letter and still active", st)
	}

	// Fix the cause, then replay.
	if _, err := h.SaveIntegration(ctx, "acme", Integration{ID: "mock", Label: "Mock", Plugin: "mock",
		Config: map[string]any{"record_file": rec}}, SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration: %v", err)
	}
	n, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{IDs: []string{dls[0].ID}})
	if err != nil || n != 1 {
		t.Fatalf("ReplayDeadLetters = %d, %v; want 1", n, err)
	}
	waitIdle(t, h, 30*time.Second)
	ids, _ = recordedIDs(t, rec)
	if ids[victim.ID] != 1 {
		t.Errorf("replayed statement delivered %d times, want once", ids[victim.ID])
	}
	if dls, _ := h.DeadLetters(ctx, "acme", DeadLetterFilter{}); len(dls) != 0 {
		t.Errorf("%d dead letters left after replay, want 0", len(dls))
	}
}

// newLRS serves an in-memory conformant LRS on loopback that accepts key
// "k" with secret "s", and returns it with its endpoint.
func newLRS(t testing.TB) (*lrstest.LRS, string) {
	t.Helper()
	lrs := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "k", Secret: "s"}}})
	srv := httptest.NewServer(lrs)
	t.Cleanup(srv.Close)
	return lrs, srv.URL + lrs.BasePath()
}

func lrsSink(endpoint, secret string) SinkConfig {
	return SinkConfig{ID: "lrs", Label: "LRS", Plugin: "lrs", Config: map[string]any{
		"xapi_version": "1.0.3", "endpoint": endpoint, "key": "k", "secret": secret}}
}

func TestAuthFailurePausesOnlyThatOrg(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	lrsA, endpointA := newLRS(t)
	lrsB, endpointB := newLRS(t)
	const wrong = "wrong-secret-value"
	cfg.Secrets.Key = testSecretsKey
	// Both organizations use the same shared LRS plugin process.
	addOrg(&cfg, "alpha", lrsSink(endpointA, wrong))
	addOrg(&cfg, "beta", lrsSink(endpointB, "s"))
	h := newHost(t, cfg)
	ctx := context.Background()
	if err := h.Record(ctx, "alpha", statements("alpha", 0, 20)...); err != nil {
		t.Fatal(err)
	}
	if err := h.Record(ctx, "beta", statements("beta", 0, 20)...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "alpha paused", func() bool {
		return sinkStatus(t, h, "alpha", "lrs").State == StatePausedAuth
	})
	waitIdle(t, h, 30*time.Second) // paused instances are not waited for
	if lrsB.Len() != 20 {
		t.Errorf("beta delivered %d, want 20", lrsB.Len())
	}
	if n := len(h.sup.Running()); !testing.Short() && n != 1 {
		t.Errorf("%d plugin processes, want the one shared process", n)
	}
	st := sinkStatus(t, h, "alpha", "lrs")
	if st.Queued != 20 || lrsA.Len() != 0 {
		t.Errorf("alpha queued = %d (LRS has %d), want the 20 statements kept", st.Queued, lrsA.Len())
	}
	if strings.Contains(st.LastError, wrong) || st.LastError == "" {
		t.Errorf("last error %q must explain the failure without the secret", st.LastError)
	}
	// A wrong secret fails the connection test, so it cannot be saved.
	if _, err := h.SaveIntegration(ctx, "alpha", Integration{ID: "lrs", Label: "LRS", Plugin: "lrs",
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": endpointA, "key": "k", "secret": Masked}}, SaveOptions{}); !errors.Is(err, ErrTestFailed) {
		t.Fatalf("SaveIntegration with the stored wrong secret = %v, want ErrTestFailed", err)
	}
	// The admin enters the right secret: saving lifts the pause.
	if _, err := h.SaveIntegration(ctx, "alpha", Integration{ID: "lrs", Label: "LRS", Plugin: "lrs",
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": endpointA, "key": "k", "secret": "s"}}, SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration: %v", err)
	}
	waitIdle(t, h, 30*time.Second)
	if lrsA.Len() != 20 {
		t.Errorf("alpha's LRS has %d statements after the fix, want 20", lrsA.Len())
	}
	list, err := h.Integrations("alpha")
	if err != nil {
		t.Fatal(err)
	}
	if got := list[0].Config["secret"]; got != Masked {
		t.Errorf("listed secret = %v, want it masked", got)
	}
}

func TestPluginCrashLosesNothing(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	cfg := testConfig(t)
	cfg.Delivery.BatchSize = 10
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"crash_on_batch": 3}))
	h := newHost(t, cfg)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := h.Record(ctx, "acme", statements("acme", i*10, 10)...); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, h, 60*time.Second)
	ids, _ := recordedIDs(t, rec)
	if len(ids) != 100 {
		t.Fatalf("delivered %d distinct statements after plugin crashes, want 100", len(ids))
	}
	if st := sinkStatus(t, h, "acme", "mock"); st.Retried == 0 {
		t.Errorf("status %+v shows no retry, but the plugin crashed", st)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Delivery.BreakerFailures = 3
	cfg.Delivery.BreakerOpen = 300 * time.Millisecond
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"fail_first": 6}))
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 5)...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "breaker open", func() bool {
		return sinkStatus(t, h, "acme", "mock").State == StateBreakerOpen
	})
	waitIdle(t, h, 30*time.Second)
	if ids, _ := recordedIDs(t, rec); len(ids) != 5 {
		t.Errorf("delivered %d after recovery, want 5", len(ids))
	}
	if st := sinkStatus(t, h, "acme", "mock"); st.State != StateActive {
		t.Errorf("state after recovery = %s, want active", st.State)
	}
}

func TestQuotaExhaustionReturnsErrFull(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queue.MaxQueueBytes = 8 << 10
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"auth_fail": "forbidden"}))
	h := newHost(t, cfg)
	ctx := context.Background()
	var err error
	accepted := 0
	for i := 0; i < 1000 && err == nil; i++ {
		if err = h.Record(ctx, "acme", statement("acme", i)); err == nil {
			accepted++
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Record error = %v, want ErrFull", err)
	}
	eventually(t, 10*time.Second, "paused", func() bool { return sinkStatus(t, h, "acme", "mock").State == StatePausedAuth })
	if st := sinkStatus(t, h, "acme", "mock"); st.Queued != accepted {
		t.Errorf("queued %d, want every accepted statement (%d) kept", st.Queued, accepted)
	}
}

func TestShutdownReportsWhatIsLeft(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"latency": "2s"}))
	h, err := New(cfg, tierOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 300)...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = h.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "left in queues") {
		t.Fatalf("Shutdown = %v, want a deadline error reporting what is left", err)
	}
	if err := h.Shutdown(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Shutdown = %v, want ErrClosed", err)
	}
	if err := h.Record(context.Background(), "acme", statement("acme", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Shutdown = %v, want ErrClosed", err)
	}
	// Nothing is lost: a new host on the same data directory delivers the
	// rest.
	cfg.Orgs["acme"] = OrgConfig{OrgSettings: cfg.Orgs["acme"].OrgSettings, Sinks: []SinkConfig{mockSink("mock", rec, nil)}}
	h2 := newHost(t, cfg)
	waitIdle(t, h2, 60*time.Second)
	if ids, _ := recordedIDs(t, rec); len(ids) != 300 {
		t.Errorf("delivered %d after restart, want 300", len(ids))
	}
}

// TestOrganizationsNeverCross records random statements for many
// organizations with several sinks each and checks that every sink only
// ever receives its own organization's statements.
func TestOrganizationsNeverCross(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const orgs = 12
	files := map[string][]string{}
	for i := 0; i < orgs; i++ {
		org := fmt.Sprintf("org%02d", i)
		var sinks []SinkConfig
		for j := 0; j < 1+rng.IntN(3); j++ {
			f := filepath.Join(dir, fmt.Sprintf("%s-%d.ndjson", org, j))
			files[org] = append(files[org], f)
			sinks = append(sinks, mockSink(fmt.Sprintf("sink-%d", j), f, nil))
		}
		addOrg(&cfg, org, sinks...)
	}
	if rng.IntN(2) == 0 {
		cfg.Plugins.Process = map[string]ProcessPolicy{"mock": ProcessPerOrg}
	}
	h := newHost(t, cfg)
	want := map[string]int{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for p := 0; p < 4; p++ {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			for k := 0; k < 50; k++ {
				org := fmt.Sprintf("org%02d", r.IntN(orgs))
				n := 1 + r.IntN(5)
				mu.Lock()
				from := want[org]
				want[org] += n
				mu.Unlock()
				if err := h.Record(context.Background(), org, statements(org, from, n)...); err != nil {
					t.Errorf("Record: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitIdle(t, h, 60*time.Second)
	for org, list := range files {
		for _, f := range list {
			ids, homes := recordedIDs(t, f)
			if len(ids) != want[org] {
				t.Errorf("%s got %d statements, want %d", f, len(ids), want[org])
			}
			for home := range homes {
				if home != "https://"+org+".learningflow.example" {
					t.Errorf("%s received a statement of %s", f, home)
				}
			}
		}
	}
}

func TestSavedIntegrationSecretsAreEncryptedAtRest(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	addOrg(&cfg, "acme")
	lrs := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "k", Secret: "very-secret-value"}}})
	srv := httptest.NewServer(lrs)
	t.Cleanup(srv.Close)
	endpoint := srv.URL + lrs.BasePath()
	in := Integration{Label: "Acme LRS", Plugin: "lrs", Config: map[string]any{"xapi_version": "2.0.0", "endpoint": endpoint, "key": "k", "secret": "very-secret-value"}}

	t.Run("refused in clear without a key", func(t *testing.T) {
		h := newHost(t, cfg)
		_, err := h.SaveIntegration(context.Background(), "acme", in, SaveOptions{})
		if !errors.Is(err, ErrPlaintextSecrets) {
			t.Fatalf("SaveIntegration = %v, want ErrPlaintextSecrets", err)
		}
	})
	t.Run("encrypted with a key and restored after restart", func(t *testing.T) {
		cfg := cfg
		cfg.DataDir = t.TempDir()
		cfg.Secrets.Key = testSecretsKey
		h := newHost(t, cfg)
		rep, err := h.SaveIntegration(context.Background(), "acme", in, SaveOptions{})
		if err != nil {
			t.Fatalf("SaveIntegration: %v (report %+v)", err, rep)
		}
		data, err := os.ReadFile(filepath.Join(cfg.DataDir, "integrations.json"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "very-secret-value") {
			t.Fatal("secret stored in clear")
		}
		if err := h.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		other := cfg
		other.Secrets.Key = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=" // another 32-byte key
		if _, err := New(other); err == nil || !strings.Contains(err.Error(), "acme/acme-lrs") {
			t.Errorf("New with another secrets key = %v, want an error naming the integration", err)
		}
		h2 := newHost(t, cfg)
		list, err := h2.Integrations("acme")
		if err != nil {
			t.Fatal(err)
		}
		want := []IntegrationInfo{{
			Integration: Integration{ID: "acme-lrs", Label: "Acme LRS", Plugin: "lrs", Config: map[string]any{"xapi_version": "2.0.0", "endpoint": endpoint, "key": "k", "secret": Masked}},
			Org:         "acme", Source: SourceSaved,
		}}
		if diff := cmp.Diff(want, list, cmpIgnoreSaved); diff != "" {
			t.Errorf("Integrations after restart (-want +got):\n%s", diff)
		}
		if got := h2.orgs["acme"].find("acme-lrs").in.Config["secret"]; got != "very-secret-value" {
			t.Errorf("secret after restart = %v, want it decrypted", got)
		}
		if err := h2.Record(context.Background(), "acme", statement("acme", 1)); err != nil {
			t.Fatal(err)
		}
		waitIdle(t, h2, 30*time.Second)
		if lrs.Len() != 1 {
			t.Errorf("delivered %d through the saved integration, want 1", lrs.Len())
		}
		if err := h2.RemoveIntegration(context.Background(), "acme", "acme-lrs"); err != nil {
			t.Fatal(err)
		}
		if _, err := h2.Integrations("acme"); err != nil {
			t.Fatal(err)
		}
		if err := h2.Record(context.Background(), "acme", statement("acme", 2)); !errors.Is(err, ErrNoSinks) {
			t.Errorf("Record without integrations = %v, want ErrNoSinks", err)
		}
	})
}

// testSecretsKey is a 32-byte AES key for tests, base64-encoded.
const testSecretsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

var cmpIgnoreSaved = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Saved" }, cmp.Ignore())

func TestSaveRefusesFailedConnectionTest(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	addOrg(&cfg, "acme")
	h := newHost(t, cfg)
	in := Integration{Label: "Bad", Plugin: "mock", Config: map[string]any{"record_file": filepath.Join(t.TempDir(), "r"), "auth_fail": "unauthenticated"}}
	rep, err := h.SaveIntegration(context.Background(), "acme", in, SaveOptions{})
	if !errors.Is(err, ErrTestFailed) {
		t.Fatalf("SaveIntegration = %v, want ErrTestFailed", err)
	}
	if rep.OK() || len(rep.Steps) == 0 {
		t.Errorf("report %+v should show the failed step", rep)
	}
	if list, _ := h.Integrations("acme"); len(list) != 0 {
		t.Errorf("integration saved despite the failed test: %+v", list)
	}
	_, err = h.TestIntegration(context.Background(), "acme", Integration{Label: "x", Plugin: "mock", Config: map[string]any{"fail_first": "many"}})
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Fields) == 0 {
		t.Errorf("TestIntegration with bad config = %v, want field errors", err)
	}
	if _, err := h.TestIntegration(context.Background(), "acme", Integration{Label: "x", Plugin: "nosuchplugin"}); !errors.Is(err, ErrPluginNotFound) {
		t.Errorf("TestIntegration with unknown plugin = %v, want ErrPluginNotFound", err)
	}
}

func TestRemovedIntegrationStatementsAreDeadLettered(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"auth_fail": "unauthenticated"}))
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 7)...); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveIntegration(context.Background(), "acme", "mock"); err != nil {
		t.Fatal(err)
	}
	dls, err := h.DeadLetters(context.Background(), "acme", DeadLetterFilter{Sink: "mock"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 7 || dls[0].Class != DeadLetterRemoved {
		t.Fatalf("got %d dead letters (%+v), want the 7 queued statements as removed", len(dls), dls)
	}
	n, err := h.PurgeDeadLetters(context.Background(), "acme", DeadLetterFilter{})
	if err != nil || n != 7 {
		t.Errorf("PurgeDeadLetters = %d, %v; want 7", n, err)
	}
}

// childEnv makes the test binary a recording process for the crash test.
const childEnv = "LRSBRIDGE_HOST_TEST_CHILD"

// runChild records statements one by one with the default durability and
// prints each id once Record has returned.
func runChild() int {
	cfg := DefaultConfig()
	cfg.DataDir = os.Getenv("CHILD_DATA_DIR")
	cfg.Plugins.Dir = os.Getenv("CHILD_PLUGINS")
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	cfg.Orgs = map[string]OrgConfig{}
	addOrg(&cfg, "acme", mockSink("mock", os.Getenv("CHILD_RECORD"), map[string]any{"latency": "5ms"}))
	h, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		st := statement("acme", i)
		if err := h.Record(context.Background(), "acme", st); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		fmt.Fprintln(out, st.ID)
		out.Flush()
	}
}

func TestKillDuringRecordingLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	dataDir, rec := t.TempDir(), filepath.Join(t.TempDir(), "r.ndjson")
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_DATA_DIR="+dataDir, "CHILD_PLUGINS="+plugins(t), "CHILD_RECORD="+rec)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var durable []string
		sc := bufio.NewScanner(stdout)
		limit := 150 + rand.IntN(150)
		for sc.Scan() {
			durable = append(durable, sc.Text())
			if len(durable) >= limit {
				break
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // ids printed before the kill took effect
			durable = append(durable, sc.Text())
		}
		_ = cmd.Wait()
		if len(durable) < limit {
			t.Fatalf("child printed %d ids before it ended, want %d", len(durable), limit)
		}
		if round == 0 {
			// The second round restarts on the same data directory while
			// undelivered statements are still queued.
			continue
		}
		cfg := testConfig(t)
		cfg.DataDir = dataDir
		addOrg(&cfg, "acme", mockSink("mock", rec, nil))
		h := newHost(t, cfg)
		waitIdle(t, h, 60*time.Second)
		ids, _ := recordedIDs(t, rec)
		for _, id := range durable {
			if ids[id] == 0 {
				t.Fatalf("statement %s was durable before the kill but never delivered", id)
			}
		}
		valid := map[string]bool{}
		for i := 0; i < 100000 && len(valid) < len(ids)+1000; i++ {
			valid[statement("acme", i).ID] = true
		}
		for id := range ids {
			if !valid[id] {
				t.Errorf("delivered %s, which was never recorded", id)
			}
		}
		t.Logf("%d statements durable before the kill; %d distinct delivered", len(durable), len(ids))
	}
}

func TestLoadConfigLayers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lrsbridge.yaml")
	yaml := `
data_dir: /var/lib/lrsbridge
plugins:
  dir: /opt/lrsbridge/plugins
  process: {thirdparty: per_org}
egress:
  allow_cidrs: ["127.0.0.0/8"]
delivery:
  batch_size: 50
orgs:
  acme:
    base_iri: https://acme.learningflow.example
    identity: mbox_sha1sum
    sinks:
      - label: Acme LRS
        plugin: lrs
        config: {xapi_version: "1.0.3", endpoint: "https://lrs.acme.example/xapi/", key: "k", secret: "s"}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path, []string{"LRSBRIDGE_QUEUE__SYNC=group", "LRSBRIDGE_DELIVERY__LINGER=50ms", "OTHER=1"})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.DataDir != "/var/lib/lrsbridge" || cfg.Queue.Sync != "group" || cfg.Delivery.Linger != 50*time.Millisecond ||
		cfg.Delivery.BatchSize != 50 || cfg.Delivery.BreakerFailures != 5 || cfg.Plugins.Process["thirdparty"] != ProcessPerOrg {
		t.Errorf("layers not applied: %+v", cfg)
	}
	acme := cfg.Orgs["acme"]
	if acme.BaseIRI != "https://acme.learningflow.example" || acme.Identity != "mbox_sha1sum" || len(acme.Sinks) != 1 ||
		acme.Sinks[0].id() != "acme-lrs" || acme.Sinks[0].Config["secret"] != "s" {
		t.Errorf("org not loaded: %+v", acme)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("queue: {sync: sometimes}\ndelivery: {batch_size: 0}\norgs: {acme: {sinks: [{plugin: 'Bad/Name'}]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(bad, []string{})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadConfig(bad) = %v, want *ConfigError", err)
	}
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
	}
	want := []string{"queue.sync", "delivery.batch_size", "orgs.acme.base_iri", "orgs.acme.sinks[0].plugin", "orgs.acme.sinks[0].id"}
	if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("problem keys (-want +got):\n%s\nproblems: %v", diff, ce.Problems)
	}
}

func TestSecretNeverInStatusOrErrors(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	const secret = "hunter2-very-secret"
	addOrg(&cfg, "acme", SinkConfig{ID: "lrs", Label: "LRS", Plugin: "lrs", Config: map[string]any{
		"xapi_version": "1.0.3", "endpoint": "http://127.0.0.1:1/xapi/", "key": "k", "secret": secret}})
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statement("acme", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a delivery error", func() bool { return sinkStatus(t, h, "acme", "lrs").LastError != "" })
	st := sinkStatus(t, h, "acme", "lrs")
	list, _ := h.Integrations("acme")
	rep, err := h.TestIntegration(context.Background(), "acme", Integration{ID: "lrs", Label: "LRS", Plugin: "lrs",
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": "http://127.0.0.1:1/xapi/", "key": "k", "secret": Masked}})
	all := fmt.Sprintf("%+v %+v %+v %v", st, list, rep, err)
	if strings.Contains(all, secret) {
		t.Errorf("secret leaked: %s", all)
	}
	if rep.OK() {
		t.Errorf("connection test to a closed port passed: %+v", rep)
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Acme LRS": "acme-lrs", "  Été / 2025 ": "t-2025", "": "lrs", "***": "lrs"} {
		if got := slug(in, "lrs"); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSavedSecretNotSentToANewDestination(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	_, endpoint := newLRS(t)
	_, other := newLRS(t)
	addOrg(&cfg, "acme", lrsSink(endpoint, "s"))
	h := newHost(t, cfg)
	ctx := context.Background()
	same := Integration{ID: "lrs", Label: "LRS", Plugin: "lrs", Config: map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "key": "k", "secret": ""}}
	if rep, err := h.TestIntegration(ctx, "acme", same); err != nil || !rep.OK() {
		t.Fatalf("TestIntegration with the saved secret = %+v, %v; want a passing test", rep, err)
	}
	moved := same
	moved.Config = map[string]any{"xapi_version": "1.0.3", "endpoint": other, "key": "k", "secret": Masked}
	_, err := h.TestIntegration(ctx, "acme", moved)
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Fields) != 1 || ce.Fields[0].Field != "secret" {
		t.Fatalf("TestIntegration to another endpoint without the secret = %v, want a field error on secret", err)
	}
	moved.Config["secret"] = "s"
	if rep, err := h.TestIntegration(ctx, "acme", moved); err != nil || !rep.OK() {
		t.Errorf("TestIntegration to another endpoint with the secret entered = %+v, %v; want a passing test", rep, err)
	}
}

// TestLRSOutageOpensBreakerAndDrains takes the LRS down (503 to every
// statements request) while recording goes on: the breaker opens, the queue
// grows, and everything is delivered once the LRS is back.
func TestLRSOutageOpensBreakerAndDrains(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Delivery.BreakerFailures = 3
	cfg.Delivery.BreakerOpen = 300 * time.Millisecond
	cfg.Delivery.BatchSize = 10
	lrs, endpoint := newLRS(t)
	addOrg(&cfg, "acme", lrsSink(endpoint, "s"))
	h := newHost(t, cfg)
	ctx := context.Background()
	if err := h.Record(ctx, "acme", statements("acme", 0, 10)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	lrs.Fail(lrstest.Fault{Status: http.StatusServiceUnavailable, Resource: "statements", Times: 1 << 30})
	for i := 1; i <= 5; i++ {
		if err := h.Record(ctx, "acme", statements("acme", i*10, 10)...); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "the breaker to open", func() bool {
		return sinkStatus(t, h, "acme", "lrs").State == StateBreakerOpen
	})
	if st := sinkStatus(t, h, "acme", "lrs"); st.Queued != 50 || st.LastError == "" {
		t.Errorf("during the outage: %+v, want 50 queued and the error shown", st)
	}
	lrs.ClearFaults() // the LRS is back
	waitIdle(t, h, 60*time.Second)
	if lrs.Len() != 60 {
		t.Errorf("LRS has %d statements after recovery, want 60", lrs.Len())
	}
	if st := sinkStatus(t, h, "acme", "lrs"); st.State != StateActive || st.DeadLettered != 0 {
		t.Errorf("after recovery: %+v, want active with nothing dead-lettered", st)
	}
}

// TestDamagedQueueDoesNotStopTheHost damages one organization's queue on
// disk (a flipped byte in the middle, not a torn tail): the host still
// starts, that integration reports the damage and its organization's
// recording fails, while other organizations carry on.
func TestDamagedQueueDoesNotStopTheHost(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	dir := t.TempDir()
	recA, recB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	addOrg(&cfg, "alpha", mockSink("mock", recA, map[string]any{"auth_fail": "unauthenticated"}))
	addOrg(&cfg, "beta", mockSink("mock", recB, nil))
	h, err := New(cfg, tierOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := h.Record(context.Background(), "alpha", statement("alpha", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(cfg.DataDir, "queues", "*alpha*", "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("found segments %v, want one for alpha", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), statement("alpha", 0).ID)
	if i < 0 {
		t.Fatal("first statement not found in the segment")
	}
	data[i] ^= 0x20
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}

	h2 := newHost(t, cfg)
	st := sinkStatus(t, h2, "alpha", "mock")
	if st.State != StateQueueError || !strings.Contains(st.LastError, "corrupt") {
		t.Errorf("alpha status = %+v, want queue_error naming the damage", st)
	}
	if err := h2.Record(context.Background(), "alpha", statement("alpha", 9)); err == nil {
		t.Error("Record for the organization with a damaged queue succeeded")
	}
	if err := h2.Record(context.Background(), "beta", statement("beta", 1)); err != nil {
		t.Fatalf("Record for another organization: %v", err)
	}
	waitIdle(t, h2, 30*time.Second)
	if ids, _ := recordedIDs(t, recB); len(ids) != 1 {
		t.Errorf("beta delivered %d, want 1", len(ids))
	}
}

func TestStatementsFailingTooLongExpireToDeadLetters(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Delivery.MaxAge = 400 * time.Millisecond
	cfg.Delivery.BreakerFailures = 1000
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"fail_first": 100000}))
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 5)...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the statements to expire", func() bool {
		return sinkStatus(t, h, "acme", "mock").DeadLettered == 5
	})
	dls, err := h.DeadLetters(context.Background(), "acme", DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dls {
		if d.Class != DeadLetterExpired || !strings.Contains(d.Reason, "not delivered within") {
			t.Errorf("dead letter %+v, want class expired with the reason", d)
		}
	}
	if st := sinkStatus(t, h, "acme", "mock"); st.Queued != 0 {
		t.Errorf("queued %d after expiry, want 0", st.Queued)
	}
}

func TestLoadConfigYAML(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfigYAML([]byte("data_dir: /srv/lrsbridge\norgs:\n  acme: {base_iri: 'https://acme.learningflow.example'}\n"),
		[]string{"LRSBRIDGE_DELIVERY__PARALLEL=4"})
	if err != nil {
		t.Fatalf("LoadConfigYAML: %v", err)
	}
	if cfg.DataDir != "/srv/lrsbridge" || cfg.Delivery.Parallel != 4 || cfg.Orgs["acme"].BaseIRI == "" || cfg.Queue.Sync != "always" {
		t.Errorf("config = %+v", cfg)
	}
	if _, err := LoadConfigYAML([]byte("data_dir: [unclosed"), []string{}); err == nil {
		t.Error("LoadConfigYAML accepted malformed YAML")
	}
}

// TestBacklogDrainsOnceTheBreakerLetsAProbeThrough is the regression test
// of a stall after an outage: the breaker's refusals counted as delivery
// failures and grew the backoff, and with parallel batches the half-open
// breaker refused the second batch, so the worker slept a full backoff
// although the probe had succeeded. The backoff here is an hour and the
// breaker opens for 50 ms: the backlog drains only if the breaker, not the
// backoff, decides when to try again.
func TestBacklogDrainsOnceTheBreakerLetsAProbeThrough(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Delivery.Parallel = 2
	cfg.Delivery.BatchSize = 20
	cfg.Delivery.BreakerFailures = 1
	cfg.Delivery.BreakerOpen = 50 * time.Millisecond
	cfg.Delivery.BackoffInitial, cfg.Delivery.BackoffMax = time.Hour, time.Hour
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"fail_first": 1}))
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 400)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	if ids, _ := recordedIDs(t, rec); len(ids) != 400 {
		t.Errorf("delivered %d distinct statements, want 400", len(ids))
	}
}
