package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// Settings of TestSharedInstancesSurviveKills.
const (
	// sharedPinnedTTL is queue.nats.pinned_ttl: how long a killed
	// instance keeps its integrations.
	sharedPinnedTTL = 3 * time.Second
	// sharedDeliveryTimeout is delivery.timeout.
	sharedDeliveryTimeout = 10 * time.Second
	// sharedBatch is delivery.batch_size.
	sharedBatch = 10
	// sharedEventsPerPost is how many events one POST /api/events carries.
	sharedEventsPerPost = 5
	// sharedPosts is how many posts each organization makes.
	sharedPosts = 60
	// sharedAckSlack is how long before a nats-server's kill a statement
	// may have been sent whose acknowledgement the kill lost (the LRS
	// notes a send when it answers; the acknowledgement follows).
	sharedAckSlack = 2 * time.Second
	// natsMaxElection is nats-server's longest raft election timeout: a
	// consumer whose leader died has a new one within one or two of them.
	natsMaxElection = 9 * time.Second
)

// sharedOrgs are the organizations of the test: acme and beacon have
// their integration in the configuration file of every instance; cobalt
// has none there and gets one saved through instance A's admin API.
var sharedOrgs = []string{"acme", "beacon", "cobalt"}

// TestSharedInstancesSurviveKills runs three nats-server processes as one
// JetStream cluster and three demo processes (-config with the jetstream
// backend) sharing it. Instance A starts alone, gets cobalt's integration
// saved through its admin API and delivers a first event of every
// organization, so it holds all three integrations. B and C join; events
// of three organizations are posted to all three instances, one post at a
// time per organization (so the recording order of an organization is the
// order of its posts); instance A is killed with SIGKILL a third of the
// way in and, once B and C deliver every organization, one nats-server
// two thirds of the way in, while posting goes on. The test checks that
// every statement of an acknowledged post reaches the development LRS,
// that first deliveries follow the recording order of each organization
// (delivery.parallel 1), that every statement sent more than once was in
// flight at one of the kills (see jsstore's package doc), that delivery
// resumes on another instance within pinned_ttl + 5 s after A's kill, and
// that after the server's kill no statement waits longer than two of the
// servers' leader election rounds (9 s each at most) + 5 s. Last, a dead letter made
// by the instance delivering acme is listed and replayed from the other.
func TestSharedInstancesSurviveKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nats-server and three demo processes; not in the fast tier (-short)")
	}
	bin := buildSharedBinaries(t)
	natsURL, servers := startNATSCluster(t, bin.natsServer)
	lrs := newCountingLRS(t, 3)
	plugDir := plugins(t)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	start := func(i int) *demoProcess {
		cfg := sharedDemoConfig(t.TempDir(), plugDir, natsURL, string(rune('a'+i)), key, lrs.endpoints[i+1])
		return startDemoProcess(t, bin.demo, cfg, i)
	}
	ctx := context.Background()

	a := start(0)
	// cobalt's integration, saved through A: every instance applies it.
	form := httpapi.IntegrationRequest{Label: "Cobalt LRS", Plugin: "lrs", Config: map[string]any{
		"xapi_version": "1.0.3", "endpoint": lrs.endpoints[0], "key": "cobalt", "secret": lrsSecret("cobalt")}}
	var saved httpapi.SaveResponse
	if code, body := call(t, ctx, http.MethodPost, a.url+"api/orgs/cobalt/integrations", "application/json", form, &saved); code != http.StatusOK {
		t.Fatalf("save cobalt's integration through A = %d %s", code, body)
	}
	p := newPoster()
	for _, org := range sharedOrgs {
		if !p.postTo(a, org, sharedEventsPerPost) {
			t.Fatalf("instance A did not record %s's first events", org)
		}
	}
	waitFor(t, 30*time.Second, "instance A to deliver the first events", func() bool {
		for _, org := range sharedOrgs {
			if _, ok := lrs.firstAfter(org, time.Time{}); !ok {
				return false
			}
		}
		return true
	})
	p.hosts = []*demoProcess{a, start(1), start(2)}
	for _, h := range p.hosts[1:] {
		waitFor(t, 30*time.Second, h.name+" to apply cobalt's integration saved through A", func() bool {
			var list struct{ Integrations []httpapi.IntegrationView }
			code, _ := call(t, ctx, http.MethodGet, h.url+"api/orgs/cobalt/integrations", "", nil, &list)
			return code == http.StatusOK && len(list.Integrations) == 1 && list.Integrations[0].ID == saved.Integration.ID
		})
	}

	// A saves its delivery counts with its status records, every 2 s. It
	// dies a second or so into the posts below, so its share is only what
	// it published by then: wait until B shows A's first deliveries, so
	// that the counts check at the end has a share of A's to keep.
	var countedBefore map[string]int64
	waitFor(t, 30*time.Second, "instance B to show A's first deliveries", func() bool {
		countedBefore = deliveredCounts(t, p.hosts[1])
		for _, org := range sharedOrgs {
			if countedBefore[org] == 0 {
				return false
			}
		}
		return true
	})

	// Instance A, which holds every integration, killed a third of the
	// way in; then, once every organization's delivery resumed on B or C,
	// one nats-server two thirds of the way in, while posting goes on.
	total := sharedPosts * len(sharedOrgs)
	wait := p.runAll(1, sharedPosts/2)
	p.waitPosts(t, total/3)
	hostKill := time.Now()
	a.kill()
	wait()
	waitFor(t, 60*time.Second, "every organization's delivery to resume on B or C after instance A's kill", func() bool {
		for _, org := range sharedOrgs {
			if _, ok := lrs.resumedAfter(org, hostKill, 1); !ok {
				return false
			}
		}
		return true
	})
	wait = p.runAll(sharedPosts/2, sharedPosts)
	p.waitPosts(t, total*2/3)
	serverKill := time.Now()
	servers[1].kill() // not the first: the demo processes know all three
	wait()

	acked, unacked := p.results()
	t.Logf("%d events acknowledged, %d posted without an answer", len(acked), len(unacked))
	if len(acked) < sharedPosts*sharedEventsPerPost*len(sharedOrgs)/2 {
		t.Fatalf("only %d events were acknowledged: the instances left did not record", len(acked))
	}
	waitFor(t, 90*time.Second, "every acknowledged statement to reach the LRS", func() bool {
		stored := lrs.stored()
		for _, ev := range acked {
			if !stored[ev.statementID()] {
				return false
			}
		}
		return true
	})

	// First deliveries in recording order, per organization.
	index := map[string]postedEvent{}
	for _, ev := range append(slices.Clone(acked), unacked...) {
		index[ev.statementID()] = ev
	}
	last := map[string]int{}
	for _, id := range lrs.l.IDs() {
		ev, ok := index[id]
		if !ok {
			t.Errorf("the LRS holds statement %s, which was never posted", id)
			continue
		}
		if prev, seen := last[ev.org]; seen && ev.seq < prev {
			t.Errorf("%s: event %d was first delivered after event %d: not in recording order", ev.org, ev.seq, prev)
		}
		last[ev.org] = ev.seq
	}

	// Statements sent more than once: JetStream delivers at least once,
	// and two events of the test may send a statement again, nothing else
	// (a lost pin or a late reset of another instance's batch fails):
	//   - instance A's kill: what A had sent and not acknowledged. A held
	//     every integration, and its pins last pinned_ttl from its last
	//     pull, at most a pull interval (pinned_ttl/3) before the kill: no
	//     other instance delivered before. First sent to A's endpoint (1)
	//     or, on the shared endpoint (0), before then; sent again after
	//     the kill.
	//   - the nats-server's kill: what the instance delivering an
	//     integration whose consumer leader was on that server had handed
	//     to its sink and could not acknowledge (the leader is gone, and
	//     pins are not replicated: the next leader may pin another
	//     instance). First sent from shortly before the kill until the
	//     holder noticed (its next acknowledgement or pull, well within
	//     pinned_ttl); sent again after the kill.
	aAlone := hostKill.Add(sharedPinnedTTL - sharedPinnedTTL/3)
	dups := map[string]int{} // "org by kill" -> statements
	for id, sends := range lrs.deliveries() {
		if len(sends) < 2 {
			continue
		}
		ev := index[id]
		first, again := sends[0], sends[1]
		switch {
		case (first.by == 1 || first.by == 0 && first.at.Before(aAlone)) && again.at.After(hostKill):
			dups[ev.org+" by instance A's kill"]++
		case first.at.After(serverKill.Add(-sharedAckSlack)) && first.at.Before(serverKill.Add(sharedPinnedTTL)) && again.at.After(serverKill):
			dups[ev.org+" by the nats-server's kill"]++
		default:
			t.Errorf("%s: event %d sent %d times %v: not a batch in flight at instance A's kill (%s) nor at the nats-server's (%s)",
				ev.org, ev.seq, len(sends), sends, hostKill.Format(time.TimeOnly+".000"), serverKill.Format(time.TimeOnly+".000"))
		}
	}
	t.Logf("statements sent more than once, by cause: %v", dups)

	// Delivery resumes on another instance within pinned_ttl + 5 s after
	// A's kill, for every organization. A request A's lrs plugin had
	// under way may be answered after the kill: it is A's when it came to
	// A's endpoint (1) or, on the shared endpoint (0), when every
	// statement in it was sent again later.
	for _, org := range sharedOrgs {
		first, ok := lrs.resumedAfter(org, hostKill, 1)
		if !ok {
			t.Errorf("%s: nothing was delivered by another instance after instance A was killed", org)
			continue
		}
		d := first.at.Sub(hostKill)
		t.Logf("%s: delivery resumed %v after instance A was killed (pinned_ttl %v + 5s)", org, d.Round(time.Millisecond), sharedPinnedTTL)
		if d > sharedPinnedTTL+5*time.Second {
			t.Errorf("%s: delivery resumed %v after instance A was killed, want within pinned_ttl %v + 5s", org, d, sharedPinnedTTL)
		}
	}

	// After the nats-server's kill, an integration whose consumer leader
	// was on it waits for the servers to elect the next leader: a raft
	// election, which a server starts 4 to 9 s after it last heard from the
	// leader (not configurable), and a second round when the other server
	// refuses its vote because its log is further ahead (seen: 13.7 s for
	// an idle stream). The instances pull again as soon as the new leader
	// answers, so every statement recorded reaches the LRS within two
	// rounds + 5 s of its recording or of the kill, whichever came later.
	waited := map[string]time.Duration{}
	sends := lrs.deliveries()
	for _, ev := range acked {
		ss := sends[ev.statementID()]
		if len(ss) == 0 || !ss[0].at.After(serverKill) {
			continue
		}
		from := ev.at
		if from.Before(serverKill) {
			from = serverKill
		}
		waited[ev.org] = max(waited[ev.org], ss[0].at.Sub(from))
	}
	for _, org := range sharedOrgs {
		d := waited[org]
		t.Logf("%s: longest wait for a first delivery after the nats-server's kill: %v (two election rounds of at most %v + 5s)", org, d.Round(time.Millisecond), natsMaxElection)
		if d > 2*natsMaxElection+5*time.Second {
			t.Errorf("%s: a statement waited %v for its first delivery after the nats-server's kill, want within two election rounds of at most %v + 5s", org, d, natsMaxElection)
		}
	}

	// A dead letter made by the instance delivering acme (B or C) is
	// listed and replayed from the other one. The dead-letter stream may
	// have been led by the killed server: first wait for its next leader
	// (a dead letter the servers cannot store is not acknowledged, and the
	// statement is sent again, which the LRS then accepts).
	waitStreamLeaders(t, natsURL)
	// The fault below hits the next POST of any organization, so first let
	// the resends that follow the kills settle: no POST for two seconds.
	waitFor(t, 30*time.Second, "deliveries to settle after the kills", func() bool {
		var latest time.Time
		for _, sends := range lrs.deliveries() {
			for _, s := range sends {
				if s.at.After(latest) {
					latest = s.at
				}
			}
		}
		return time.Since(latest) > 2*time.Second
	})
	lrs.l.Fail(lrstest.Fault{Status: http.StatusBadRequest, Method: http.MethodPost, Resource: "statements"})
	if !p.postTo(p.hosts[1], "acme", 1) {
		t.Fatal("instance B did not record acme's last event")
	}
	acked, _ = p.results()
	victim := acked[len(acked)-1].statementID()
	var maker int
	waitFor(t, 30*time.Second, "the statement the LRS refused to be sent", func() bool {
		sends := lrs.deliveries()[victim]
		if len(sends) > 0 {
			maker = sends[0].by
		}
		return maker > 0
	})
	if maker != 2 && maker != 3 {
		t.Fatalf("the refused statement came to endpoint %d, want B's (2) or C's (3)", maker)
	}
	made, other := p.hosts[maker-1], p.hosts[5-maker-1]
	var dls httpapi.DeadLettersResponse
	waitFor(t, 30*time.Second, other.name+" to list the dead letters made on "+made.name, func() bool {
		code, _ := call(t, ctx, http.MethodGet, other.url+"api/orgs/acme/deadletters", "", nil, &dls)
		return code == http.StatusOK && dls.Total > 0
	})
	var refused []string
	for _, dl := range dls.DeadLetters {
		refused = append(refused, dl.StatementID)
	}
	if diff := cmp.Diff([]string{victim}, refused); diff != "" {
		t.Fatalf("dead letters listed on %s (-want +got):\n%s", other.name, diff)
	}
	var replayed map[string]int
	if code, body := call(t, ctx, http.MethodPost, other.url+"api/orgs/acme/deadletters/replay", "application/json",
		httpapi.DeadLetterRequest{Sink: "lrs"}, &replayed); code != http.StatusOK || replayed["replayed"] != dls.Total {
		t.Fatalf("replay on %s = %d %s, want %d replayed", other.name, code, body, dls.Total)
	}
	waitFor(t, 30*time.Second, "the replayed statements to reach the LRS", func() bool {
		stored := lrs.stored()
		for _, id := range refused {
			if !stored[id] {
				return false
			}
		}
		return true
	})
	if code, _ := call(t, ctx, http.MethodGet, made.url+"api/orgs/acme/deadletters", "", nil, &dls); code != http.StatusOK || dls.Total != 0 {
		t.Errorf("%s lists %d dead letters after the replay on %s, want 0", made.name, dls.Total, other.name)
	}
	checkCountsKept(t, countedBefore, hostKill, p.hosts[1], p.hosts[2])
}

// deliveredCounts returns the delivered counts of every organization's
// integrations that h's status shows.
func deliveredCounts(t *testing.T, h *demoProcess) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, org := range sharedOrgs {
		var st httpapi.StatusView
		if code, body := call(t, context.Background(), http.MethodGet, h.url+"api/orgs/"+org+"/status", "", nil, &st); code != http.StatusOK {
			t.Fatalf("status of %s on %s = %d %s", org, h.name, code, body)
		}
		for _, in := range st.Integrations {
			out[org] += in.Delivered
		}
	}
	return out
}

// checkCountsKept checks that the delivered counts the instances left
// show, once the killed instance's live status record expired (30 s
// after its kill), are the same on each and not below what they showed
// before the kill: the killed instance's counts stay in the sums.
func checkCountsKept(t *testing.T, before map[string]int64, kill time.Time, hosts ...*demoProcess) {
	t.Helper()
	time.Sleep(time.Until(kill.Add(35 * time.Second)))
	var counts []map[string]int64
	waitFor(t, 30*time.Second, "the instances left to show the same delivered counts", func() bool {
		counts = counts[:0]
		for _, h := range hosts {
			counts = append(counts, deliveredCounts(t, h))
		}
		for _, c := range counts[1:] {
			if !maps.Equal(c, counts[0]) {
				return false
			}
		}
		return true
	})
	for _, org := range sharedOrgs {
		if counts[0][org] < before[org] {
			t.Errorf("%s: %d delivered after instance A's kill, below the %d shown before it", org, counts[0][org], before[org])
		}
	}
	t.Logf("delivered counts before instance A's kill %v, after %v", before, counts[0])
}

// sharedBinaries are the programs the shared test runs.
type sharedBinaries struct {
	natsServer, demo string
}

// buildSharedBinaries builds nats-server (the version in go.mod, from the
// module cache or the Go module proxy) and this demo into a temporary
// directory.
func buildSharedBinaries(t *testing.T) sharedBinaries {
	t.Helper()
	dir := t.TempDir()
	b := sharedBinaries{natsServer: filepath.Join(dir, "nats-server"), demo: filepath.Join(dir, "learningflow")}
	builds := [][]string{
		{"build", "-o", b.natsServer, "github.com/nats-io/nats-server/v2"},
		{"build", "-o", b.demo, "."},
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, args := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// process is a child process of the test, killed and waited for at the
// end of the test.
type process struct {
	name string
	cmd  *exec.Cmd
	once sync.Once
	done chan struct{}
}

// startProcess starts cmd and arranges that it is gone when the test
// ends: the graceful signal first, SIGKILL after grace.
func startProcess(t *testing.T, name string, cmd *exec.Cmd, grace time.Duration) *process {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			p.kill()
		}
	})
	return p
}

// kill ends the process with SIGKILL and waits until it is gone.
func (p *process) kill() {
	p.once.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGKILL) })
	<-p.done
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range lns {
		l.Close()
	}
	return ports
}

// startNATSCluster starts three nats-server processes forming one
// JetStream cluster on loopback and waits until JetStream answers. It
// returns the client URLs, comma-separated, and the processes.
func startNATSCluster(t *testing.T, bin string) (string, []*process) {
	t.Helper()
	const n = 3
	ports := freePorts(t, 2*n)
	var routes, urls []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	var servers []*process
	for i := range n {
		dir := t.TempDir()
		conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: lrsbridge-process-test
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, i+1, ports[i], filepath.Join(dir, "js"), ports[n+i], strings.Join(routes, ", "))
		file := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", file)
		log, err := os.Create(filepath.Join(dir, "nats.log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { log.Close() })
		cmd.Stdout, cmd.Stderr = log, log
		servers = append(servers, startProcess(t, fmt.Sprintf("nats-server n%d", i+1), cmd, 10*time.Second))
	}
	url := strings.Join(urls, ",")
	js := jetStreamAt(t, url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	defer js.Conn().Close()
	waitFor(t, 60*time.Second, "the NATS cluster to elect its JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return url, servers
}

// jetStreamAt connects to the NATS cluster at url with opts; the caller
// closes the connection (js.Conn()).
func jetStreamAt(t *testing.T, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to the NATS cluster: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return js
}

// waitStreamLeaders waits until every stream on the servers has a leader.
func waitStreamLeaders(t *testing.T, url string) {
	t.Helper()
	js := jetStreamAt(t, url)
	defer js.Conn().Close()
	waitFor(t, 60*time.Second, "every stream to have a leader after the nats-server's kill", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		list := js.ListStreams(ctx)
		streams, led := 0, 0
		for info := range list.Info() {
			streams++
			if info.Cluster != nil && info.Cluster.Leader != "" {
				led++
			}
		}
		return list.Err() == nil && streams > 0 && led == streams
	})
}

// lrsSecret is the development LRS's secret of org's credentials.
func lrsSecret(org string) string { return "secret-of-" + org }

// sharedDemoConfig writes the configuration of one demo instance into
// dataDir and returns its file name.
func sharedDemoConfig(dataDir, plugDir, natsURL, instance, key, endpoint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `data_dir: %q
plugins:
  dir: %q
egress:
  allow_cidrs: ['127.0.0.0/8']
  allow_http: true
queue:
  backend: jetstream
  nats:
    url: %q
    instance: %q
    replicas: 3
    pinned_ttl: %s
delivery:
  parallel: 1
  batch_size: %d
  linger: 5ms
  backoff_initial: 10ms
  backoff_max: 200ms
  timeout: %s
secrets:
  key: %q
orgs:
`, dataDir, plugDir, natsURL, instance, sharedPinnedTTL, sharedBatch, sharedDeliveryTimeout, key)
	for _, org := range sharedOrgs {
		fmt.Fprintf(&b, "  %s:\n    base_iri: https://%s.learningflow.example\n", org, org)
		if org == "cobalt" {
			continue
		}
		fmt.Fprintf(&b, `    sinks:
      - id: lrs
        label: LRS
        plugin: lrs
        config:
          xapi_version: '1.0.3'
          endpoint: %q
          key: %q
          secret: %q
`, endpoint, org, lrsSecret(org))
	}
	file := filepath.Join(dataDir, "config.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		panic(err) // a temporary directory of the test
	}
	return file
}

// demoProcess is a running demo instance.
type demoProcess struct {
	*process
	// url is the panel's base URL, ending in "/".
	url string
}

// startDemoProcess runs the demo binary with the configuration file and
// the panel on a free loopback port, and waits until it serves.
func startDemoProcess(t *testing.T, bin, config string, i int) *demoProcess {
	t.Helper()
	name := string(rune('A' + i))
	cmd := exec.Command(bin, "-config", config, "-listen", "127.0.0.1:0", "-status-every", "0", "-v")
	logFile := filepath.Join(filepath.Dir(config), "stderr.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		log.Close()
		if t.Failed() {
			if data, err := os.ReadFile(logFile); err == nil {
				t.Logf("log of instance %s:\n%s", name, tail(data, 4000))
			}
		}
	})
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "instance "+name, cmd, 20*time.Second)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "settings panel: "); ok {
				u, _, _ := strings.Cut(rest, " ")
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		return &demoProcess{process: p, url: u}
	case <-p.done:
		t.Fatalf("instance %s ended before it served its panel", name)
	case <-time.After(60 * time.Second):
		t.Fatalf("instance %s did not serve its panel within a minute", name)
	}
	return nil
}

// tail returns the last n bytes of data.
func tail(data []byte, n int) []byte {
	if len(data) > n {
		return data[len(data)-n:]
	}
	return data
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %v for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countingLRS is a development LRS on loopback that also remembers when
// each statement was sent to it, for which organization (each has its own
// credentials) and to which of its endpoints: it listens on 127.0.0.1
// (endpoint 0, the one saved integrations use) and on 127.0.0.2 and up
// (endpoint i+1 is in the configuration file of instance i only), so the
// endpoint of a send names the instance that sent it, when it is not 0.
type countingLRS struct {
	l         *lrstest.LRS
	endpoints []string

	mu    sync.Mutex
	sends map[string][]send    // statement id -> every send
	byOrg map[string][]request // org -> every statements request
}

// request is one statements request the LRS answered.
type request struct {
	send
	ids []string
}

// send is one statements request the LRS answered.
type send struct {
	at time.Time
	// by is the index of the endpoint it came to.
	by int
}

func (s send) String() string { return fmt.Sprintf("%s@%d", s.at.Format(time.TimeOnly+".000"), s.by) }

// newCountingLRS starts the LRS with endpoints for n instances.
func newCountingLRS(t *testing.T, n int) *countingLRS {
	t.Helper()
	var creds []lrstest.Credential
	for _, org := range sharedOrgs {
		creds = append(creds, lrstest.Credential{Key: org, Secret: lrsSecret(org)})
	}
	c := &countingLRS{l: lrstest.New(lrstest.Options{Credentials: creds}),
		sends: map[string][]send{}, byOrg: map[string][]request{}}
	for i := range n + 1 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			t.Fatalf("listen on a loopback address: %v", err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(w, r, i) }))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		c.endpoints = append(c.endpoints, srv.URL+c.l.BasePath())
	}
	return c
}

// serve passes the request to the LRS and notes the statements a POST or
// PUT sent to endpoint by, once the LRS answered without a server error.
func (c *countingLRS) serve(w http.ResponseWriter, r *http.Request, by int) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/statements") {
		c.l.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	c.l.ServeHTTP(rec, r)
	if rec.status >= 500 {
		return
	}
	var ids []string
	var list []struct{ ID string }
	var one struct{ ID string }
	if json.Unmarshal(body, &list) == nil {
		for _, s := range list {
			ids = append(ids, s.ID)
		}
	} else if json.Unmarshal(body, &one) == nil {
		ids = append(ids, one.ID)
	}
	org, _, _ := r.BasicAuth()
	s := send{at: time.Now(), by: by}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.sends[id] = append(c.sends[id], s)
	}
	c.byOrg[org] = append(c.byOrg[org], request{send: s, ids: ids})
}

// stored returns the set of stored statement ids.
func (c *countingLRS) stored() map[string]bool {
	out := map[string]bool{}
	for _, id := range c.l.IDs() {
		out[id] = true
	}
	return out
}

// deliveries returns the sends of each statement.
func (c *countingLRS) deliveries() map[string][]send {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]send, len(c.sends))
	for id, ss := range c.sends {
		out[id] = slices.Clone(ss)
	}
	return out
}

// firstAfter returns org's first statements request answered after t.
func (c *countingLRS) firstAfter(org string, t time.Time) (send, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.byOrg[org] {
		if r.at.After(t) {
			return r.send, true
		}
	}
	return send{}, false
}

// resumedAfter returns org's first statements request answered after t
// that the instance of endpoint killed did not send: not to that
// endpoint, and, on the shared endpoint 0, not one whose statements were
// all sent again later (what the killed instance had under way).
func (c *countingLRS) resumedAfter(org string, t time.Time, killed int) (send, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.byOrg[org] {
		if !r.at.After(t) || r.by == killed {
			continue
		}
		if r.by == 0 && !slices.ContainsFunc(r.ids, func(id string) bool {
			ss := c.sends[id]
			return ss[len(ss)-1].at.Equal(r.at)
		}) {
			continue
		}
		return r.send, true
	}
	return send{}, false
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// postedEvent is one event the test posted.
type postedEvent struct {
	org string
	seq int
	// at is when its post was answered.
	at time.Time
}

func (e postedEvent) id() string { return fmt.Sprintf("%s-e%04d", e.org, e.seq) }

// statementID is the id of the event's statement: a quiz.completed event
// without questions yields one, at position 0.
func (e postedEvent) statementID() string {
	return xapi.MustUUIDv5(xapi.NamespaceStatement, e.org+"\x00"+e.id()+"\x00"+"0")
}

// poster posts events to the instances and keeps what was acknowledged.
type poster struct {
	hosts  []*demoProcess
	client *http.Client

	mu      sync.Mutex
	next    map[string]int // org -> its next event's seq
	posts   int
	acked   []postedEvent
	unacked []postedEvent
}

func newPoster() *poster {
	return &poster{client: &http.Client{Timeout: 60 * time.Second}, next: map[string]int{}}
}

// runAll makes the posts from to to of every organization, each
// organization one post at a time, and returns a function that waits
// until they are done.
func (p *poster) runAll(from, to int) (wait func()) {
	var wg sync.WaitGroup
	for o, org := range sharedOrgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := from; n < to; n++ {
				p.postTo(p.host(o+n), org, sharedEventsPerPost)
			}
		}()
	}
	return wg.Wait
}

// host returns the i-th instance in turn, or the next one still running
// after it: a post to a killed instance only counts when it was under way
// at the kill.
func (p *poster) host(i int) *demoProcess {
	for j := range len(p.hosts) {
		h := p.hosts[(i+j)%len(p.hosts)]
		select {
		case <-h.done:
		default:
			return h
		}
	}
	return p.hosts[i%len(p.hosts)]
}

// postTo posts org's next n events to h and reports whether all were
// recorded. Events of a post that is not answered so
// count as unacknowledged.
func (p *poster) postTo(h *demoProcess, org string, n int) bool {
	p.mu.Lock()
	var evs []postedEvent
	var body strings.Builder
	for range n {
		ev := postedEvent{org: org, seq: p.next[org]}
		p.next[org]++
		evs = append(evs, ev)
		body.WriteString(quizEvent(org, ev.id()) + "\n")
	}
	p.mu.Unlock()
	ok := p.post(h.url+"api/events", body.String(), len(evs))
	now := time.Now()
	for i := range evs {
		evs[i].at = now
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.acked = append(p.acked, evs...)
	} else {
		p.unacked = append(p.unacked, evs...)
	}
	p.posts++
	return ok
}

// post sends one NDJSON body and reports whether all n events were
// recorded.
func (p *poster) post(url, body string, n int) bool {
	resp, err := p.client.Post(url, "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var res httpapi.EventsResponse
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&res) != nil {
		return false
	}
	return res.Recorded == int64(n)
}

// waitPosts waits until n posts were answered (or failed).
func (p *poster) waitPosts(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d posts", n), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.posts >= n
	})
}

// results returns the acknowledged and the unacknowledged events.
func (p *poster) results() (acked, unacked []postedEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acked), slices.Clone(p.unacked)
}
