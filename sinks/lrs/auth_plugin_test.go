package lrs

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

// TestOAuth2_pluginProcess runs the LRS plugin as a real process and checks
// that what the host sees of OAuth 2.0 survives the wire: a wrong client
// secret is an unauthenticated error with a plain message (which the host
// turns into paused_auth), the connection test reports the token step, and
// a good secret delivers.
func TestOAuth2_pluginProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a plugin")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	bin := filepath.Join(t.TempDir(), "lrs")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/learningflow/lrsbridge/plugins/lrs").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(proc.Kill)
	ts := newTokenServer(t, 3600)

	bad := ts.config()
	bad[KeyClientSecret] = "wrong-secret-value"
	sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/lrs-bad", Org: "acme", Config: bad, Egress: loopbackPolicy})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	_, err = sink.Deliver(ctx, sdk.DeliverRequest{Statements: stmts(0, 2)})
	if sdk.ClassOf(err) != sdk.ClassUnauthenticated || !strings.Contains(err.Error(), "rejected the client id or client secret") {
		t.Errorf("Deliver over the wire with a wrong client secret = %v (class %v); want unauthenticated with a plain message", err, sdk.ClassOf(err))
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("the error shows the client secret: %v", err)
	}
	tester, ok := sink.(sdk.ConnectionTester)
	if !ok {
		t.Fatal("the remote instance is not a ConnectionTester")
	}
	rep, err := tester.TestConnection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := findStep(rep, StepToken); st == nil || st.Status != sdk.StepFailed {
		t.Errorf("token step over the wire = %+v; want failed", st)
	}

	good, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/lrs-good", Org: "acme", Config: ts.config(), Egress: loopbackPolicy})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	resp, err := good.Deliver(ctx, sdk.DeliverRequest{Statements: stmts(0, 3)})
	if err != nil {
		t.Fatalf("Deliver over the wire = %v; want all delivered", err)
	}
	for i, v := range resp.Verdicts {
		if v.Err != nil {
			t.Errorf("statement %d over the wire: %v; want delivered", i, v.Err)
		}
	}
	if got := ts.store.Len(); got != 3 {
		t.Errorf("LRS holds %d statements; want 3", got)
	}
	if got := ts.fetchCount(); got != 1 {
		t.Errorf("token fetches = %d; want 1", got)
	}
	for _, s := range []sdk.Sink{sink, good} {
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}
