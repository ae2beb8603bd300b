package scaletest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/proctest"
)

// Chaos test parameters: at least chaosChanges changes from a workload of chaosRate
// transactions per second, while the simulator cuts every Bolt connection every chaosDrop and
// fails chaosFail of the statements with a transient code; chaosKills SIGKILLs of cdcstreamd
// and of the consumer, alternating, one every chaosKillEvery.
const (
	chaosChanges   = 100_000
	chaosRate      = 400
	chaosDrop      = "3s"
	chaosFail      = "0.05"
	chaosKills     = 3
	chaosKillEvery = 8 * time.Second
)

// simAdminRE matches neo4jsim's admin API line, capturing its URL.
var simAdminRE = regexp.MustCompile(`neo4jsim admin API on (http://\S+)`)

// simStatus is the part of neo4jsim's GET /status the verdict reports.
type simStatus struct {
	Stats struct {
		ConnectionsDropped int `json:"connectionsDropped"`
		Drops              int `json:"drops"`
		Statements         int `json:"statements"`
		FailedFraction     int `json:"failedFraction"`
	} `json:"stats"`
}

// TestChaos: a cdctail process with a checkpoint file follows one cdcstreamd through at least
// 100 000 changes while neo4jsim drops every Bolt connection every few seconds and fails 5% of
// the statements with a transient code, cdcstreamd is SIGKILLed and restarted three times and
// cdctail three times. Every logged change reaches the consumer in order; each consumer kill
// repeats at most one change (printed, not yet checkpointed), and no process of it repeats any.
func TestChaos(t *testing.T) {
	began := time.Now()
	bins := build(t)
	sim, m := proctest.StartProcess(t, bins.neo4jsim, proctest.Options{Ready: []*regexp.Regexp{simServingRE, simAdminRE}},
		"--listen", "127.0.0.1:0", "--user", simUser, "--password", simPassword, "--database", simDatabase,
		"--workload-rate", fmt.Sprint(chaosRate), "--seed", "29",
		"--fault-drop-every", chaosDrop, "--fault-fail-fraction", chaosFail, "--fault-seed", "5",
		"--admin-listen", "127.0.0.1:0")
	uri, admin := m[0][1], m[1][1]
	r := newReplica(t, "cdcstreamd", bins.cdcstreamd, uri, "--poll-interval", "50ms")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waitScraper := scrapeEvery(ctx, 250*time.Millisecond, []*replica{r})
	defer waitScraper()

	// The checkpoint file goes to tmpfs when there is one: cdctail fsyncs it after every change,
	// and on a shared disk that alone would stretch the run by minutes. A SIGKILL keeps what
	// was written either way (the kernel's page cache outlives the process).
	dir := t.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "cdcchaos-"); err == nil {
			dir = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	tail := startTail(t, bins.cdctail, r.addr, dir)
	waitDeliveries(t, []*recorder{tail.rec}, func(rc *recorder) bool { return len(rc.delivered()) > 0 }, "a first change", time.Minute)

	for i := range 2 * chaosKills {
		time.Sleep(chaosKillEvery)
		before := len(tail.rec.delivered())
		if i%2 == 0 {
			r.kill(t)
			time.Sleep(time.Second)
			r.start(t)
			t.Logf("kill %d: cdcstreamd SIGKILLed after %d changes delivered, restarted on %s", i+1, before, r.addr)
		} else {
			tail.finish(t)
			tail.start(t)
			t.Logf("kill %d: cdctail SIGKILLed after %d changes delivered, restarted from its checkpoint file", i+1, before)
		}
	}

	// Follow the simulator's log until it holds chaosChanges changes; that is the log the
	// consumer must deliver.
	lr := newLogReader(t, uri)
	var log []pos
	deadline := time.Now().Add(5 * time.Minute)
	for log = lr.more(t); len(log) < chaosChanges; log = lr.more(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator logged only %d changes within 5 minutes", len(log))
		}
		time.Sleep(time.Second)
	}
	end := log[len(log)-1]
	waitDeliveries(t, []*recorder{tail.rec}, func(rc *recorder) bool { return rc.reached(end) },
		fmt.Sprintf("the log's end (tx %d, seq %d)", end.tx, end.seq), 3*time.Minute)
	tail.finish(t)
	var status simStatus
	statusErr := getJSON(admin+"/status", &status)
	cancel()
	waitScraper()
	if statusErr != nil {
		t.Errorf("neo4jsim admin API: %v", statusErr)
	}
	if status.Stats.Drops == 0 || status.Stats.FailedFraction == 0 {
		t.Errorf("the faults did not happen: %+v\n%s", status.Stats, sim.Log)
	}

	got, starts := tail.rec.segments()
	c := compare("cdctail", log, got)
	perKill, within := restartRepeats(got, starts)
	if c.lost != 0 || c.disordered != 0 || c.unknown != 0 || len(log) < chaosChanges {
		t.Errorf("%s (log %d changes); first: %s", c, len(log), c.first)
	}
	for k, n := range perKill {
		if n > 1 {
			t.Errorf("cdctail restart %d repeated %d changes; at most the one printed but not checkpointed may repeat", k+1, n)
		}
	}
	if within != 0 {
		t.Errorf("%d deliveries within one cdctail process repeated or went back (after the library's de-duplication)", within)
	}
	if tail.rec.bad != "" {
		t.Errorf("cdctail printed a line that is not a change: %s", tail.rec.bad)
	}
	s := r.total()
	verdict := fmt.Sprintf("chaos verdict: logged=%d delivered=%d lost=%d out-of-order=%d repeats-per-consumer-kill=%s "+
		"repeats-after-dedup=%d | faults: drop-rounds=%d connections-dropped=%d failed-statements=%d of %d (%s) | "+
		"cdcstreamd SIGKILLs=%d cdctail SIGKILLs=%d | cdcstreamd streams=%.0f changes=%.0f | %s in %s",
		len(log), c.delivered-c.repeated, c.lost, c.disordered+c.unknown, strings.Trim(fmt.Sprint(perKill), "[]"), within,
		status.Stats.Drops, status.Stats.ConnectionsDropped, status.Stats.FailedFraction, status.Stats.Statements, chaosFail,
		r.starts-1, tail.starts-1, s.streams, s.changes,
		map[bool]string{true: "PASS", false: "FAIL"}[!t.Failed()], time.Since(began).Round(time.Second))
	fmt.Println(verdict)
	t.Log(verdict)
}

// getJSON decodes the JSON reply of a GET.
func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
