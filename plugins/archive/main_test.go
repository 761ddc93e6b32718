package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learningflow/lrsbridge/sdk"
)

// hostEnv makes the test binary a host-like process (see runHost); its
// value is "PLUGIN DIR".
const hostEnv = "LRSBRIDGE_ARCHIVE_TEST_HOST"

func TestMain(m *testing.M) {
	if v := os.Getenv(hostEnv); v != "" {
		os.Exit(runHost(v))
	}
	os.Exit(m.Run())
}

// runHost starts the archive plugin, opens an archive in dir (which locks
// it), prints the plugin's pid and waits to be killed.
func runHost(v string) int {
	bin, dir, _ := strings.Cut(v, " ")
	ctx := context.Background()
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/archive", Org: "acme", Config: map[string]any{"dir": dir}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(proc.Pid())
	select {}
}

// TestRestartedHostRecoversTheArchive kills a host that runs the archive
// plugin with SIGKILL and checks that the plugin exits by itself, so that a
// restarted host opens the same archive: its lock is free, nobody has to
// kill an orphan.
func TestRestartedHostRecoversTheArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a plugin")
	}
	if runtime.GOOS != "linux" {
		t.Skip("collects the orphan as Linux subreaper")
	}
	// Orphans become children of this process, so that it can wait for
	// the plugin once its host is gone.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a subreaper: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "archive")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), hostEnv+"="+bin+" "+dir)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		_ = host.Process.Kill()
		_ = host.Wait()
		t.Fatalf("host-like process printed %q, %v; want the plugin's pid", line, err)
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()

	// The orphaned plugin exits by itself.
	plugin, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		_, err := plugin.Wait()
		exited <- err
	}()
	select {
	case <-exited:
	case <-ctx.Done():
		_ = plugin.Kill()
		<-exited
		t.Fatal("the archive plugin still runs after its host was killed")
	}

	// The restarted host opens the archive at once.
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/archive", Org: "acme", Config: map[string]any{"dir": dir}})
	if err != nil {
		t.Fatalf("Configure after the restart = %v; want the archive open", err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Error(err)
	}
}
