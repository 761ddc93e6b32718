package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

var update = flag.Bool("update", false, "rewrite testdata/events.ndjson from the generator")

const eventsFile = "testdata/events.ndjson"

// badLines are the lines of eventsFile that must be refused, by line
// number: a malformed line, an event of unknown kind, an event without its
// user and a SCORM call with a score that is not a number.
var badLines = map[int]string{
	7:  `{"id":"bad-1","org":"acme","kind":"quiz.completed","user":{"id":"u-1000"},"payload":{"quiz_id":`,
	19: `{"id":"bad-2","org":"acme","kind":"video.watched","user":{"id":"u-1000"},"payload":{}}`,
	33: `{"id":"bad-3","org":"beacon","kind":"chat.message","payload":{"conversation_id":"c","message_id":"m","text":"hi"}}`,
	50: `{"id":"bad-4","org":"beacon","kind":"scorm.runtime","user":{"id":"u-1100"},"payload":{"version":"2004","package_id":"p","sco_id":"s","attempt_id":"a","call":"Commit","cmi":{"score":{"raw":"lots"}}}}`,
}

// writeEventsFile writes eventsFile: generated events of every kind with
// badLines among them.
func writeEventsFile(t *testing.T) {
	var gen bytes.Buffer
	if err := writeGenerated(&gen, 96, 2); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&gen)
	sc.Buffer(nil, 1<<20)
	var out bytes.Buffer
	line := 1
	for sc.Scan() {
		for badLines[line] != "" {
			out.WriteString(badLines[line] + "\n")
			line++
		}
		out.Write(sc.Bytes())
		out.WriteByte('\n')
		line++
	}
	if err := os.WriteFile(eventsFile, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEventsFileCoversEveryKind keeps the fixture honest: every kind of
// event, for both demo organizations, and the bad lines where the drain
// test expects them.
func TestEventsFileCoversEveryKind(t *testing.T) {
	if *update {
		writeEventsFile(t)
	}
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if want, bad := badLines[i+1]; bad {
			if line != want {
				t.Errorf("line %d = %s, want the bad line %s", i+1, line, want)
			}
			continue
		}
		var ev host.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if kinds[ev.Org] == nil {
			kinds[ev.Org] = map[string]bool{}
		}
		kinds[ev.Org][ev.Kind] = true
	}
	for _, org := range []string{"acme", "beacon"} {
		var missing []string
		for _, k := range host.EventKinds {
			if !kinds[org][k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s has no events of kinds %v (regenerate with -update and adjust the seed)", org, missing)
		}
	}
}

// TestDrainEventsFile runs "-events testdata/events.ndjson -drain" on the
// demo configuration and checks the summary against what the development
// LRS and the archive received.
func TestDrainEventsFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	var stdout, stderr syncBuffer
	var rn *running
	a := &app{stdout: &stdout, stderr: &stderr, environ: []string{}, started: func(r *running) { rn = r }}
	code := a.run(ctx, []string{"-events", eventsFile, "-drain", "-data", dataDir, "-plugins", plugins(t), "-progress", "0", "-workers", "4"})
	if code != 1 {
		t.Errorf("exit code = %d, want 1 (the file has refused lines)\nstderr:\n%s", code, stderr.String())
	}
	if rn == nil || rn.demo == nil {
		t.Fatalf("the demo did not start\nstderr:\n%s", stderr.String())
	}

	out := strings.TrimSpace(stdout.String())
	if strings.Count(out, "\n") != 0 {
		t.Errorf("stdout is not one line:\n%s", out)
	}
	var s summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stdout is not the JSON summary (%v):\n%s", err, out)
	}

	// Every bad line is reported with its number and counted as refused.
	for line := range badLines {
		if want := fmt.Sprintf("%s:%d: refused: ", eventsFile, line); !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not report line %d (%q)", line, want)
		}
	}
	if s.Refused != int64(len(badLines)) || s.Recorded+s.Refused != s.Events {
		t.Errorf("summary counts events %d = recorded %d + refused %d, want %d refused", s.Events, s.Recorded, s.Refused, len(badLines))
	}

	// What was delivered is what the LRS and the archive hold.
	lrsIDs := rn.demo.LRS.IDs()
	r, err := archive.Open(rn.demo.ArchiveDir)
	if err != nil {
		t.Fatal(err)
	}
	var archived []string
	if err := r.Replay(ctx, "beacon", time.Time{}, time.Time{}, func(rec archive.Record) error {
		archived = append(archived, rec.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	type counts struct {
		Statements, Delivered, DeadLettered, Queued int64
		PerIntegration                              map[string]int64
		Received                                    map[string]int
	}
	per := map[string]int64{}
	for _, in := range s.Integrations {
		per[in.Org+"/"+in.ID] = in.Delivered
	}
	got := counts{Statements: s.Statements, Delivered: s.Delivered, DeadLettered: s.DeadLettered, Queued: int64(s.Queued),
		PerIntegration: per, Received: map[string]int{"acme/demo-lrs": len(lrsIDs), "beacon/archive": len(archived)}}
	want := counts{Statements: s.Statements, Delivered: s.Statements,
		PerIntegration: map[string]int64{"acme/demo-lrs": int64(len(lrsIDs)), "beacon/archive": int64(len(archived))},
		Received:       map[string]int{"acme/demo-lrs": len(lrsIDs), "beacon/archive": len(archived)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary and sinks disagree (-want +got):\n%s", diff)
	}
	if int64(len(lrsIDs)+len(archived)) != s.Statements || s.Statements == 0 {
		t.Errorf("LRS %d + archive %d statements, want the %d recorded", len(lrsIDs), len(archived), s.Statements)
	}
	if dup := duplicates(append(slices.Clone(lrsIDs), archived...)); len(dup) > 0 {
		t.Errorf("statement ids received twice: %v", dup)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "demo-config.yaml")); err != nil {
		t.Errorf("the kept data directory lacks the expanded configuration: %v", err)
	}
}

func duplicates(ids []string) []string {
	slices.Sort(ids)
	var out []string
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			out = append(out, ids[i])
		}
	}
	return out
}
