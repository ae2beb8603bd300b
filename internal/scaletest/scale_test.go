package scaletest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Scale-out test parameters: the workload's rate, the stream age that rotates streams across
// replicas, and the kill schedule (each replica is SIGKILLed killRounds/3 times, one at a time).
const (
	scaleRate      = 100 // transactions per second
	scaleStreamAge = "4s"
	killRounds     = 6
	killEvery      = 5 * time.Second
	downFor        = time.Second
)

// TestScaleOutBehindHAProxy: three cdcstreamd processes behind HAProxy, a neo4jsim workload,
// the Go client library and cdctail consuming through the balancer while replicas are
// SIGKILLed and restarted one at a time and --max-stream-age rotates streams. Every change the
// simulator logged reaches each consumer exactly once, in order, and every replica served.
func TestScaleOutBehindHAProxy(t *testing.T) {
	haproxy := haproxyBinary(t)
	began := time.Now()
	bins := build(t)
	_, uri := startSim(t, bins.neo4jsim, scaleRate)

	var replicas []*replica
	var servers []haproxyServer
	for i := range 3 {
		r := newReplica(t, fmt.Sprintf("r%d", i+1), bins.cdcstreamd, uri,
			"--max-stream-age", scaleStreamAge, "--poll-interval", "50ms")
		replicas = append(replicas, r)
		servers = append(servers, haproxyServer{Name: r.name, Addr: r.addr})
	}
	lb := startHAProxy(t, haproxy, servers)
	for _, r := range replicas {
		lb.waitUp(t, r.name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waitScraper := scrapeEvery(ctx, 250*time.Millisecond, replicas)
	defer waitScraper()

	dir := t.TempDir()
	goc := startGoConsumer(t, lb.addr, dir)
	tail := startTail(t, bins.cdctail, lb.addr, dir)
	consumers := []*recorder{goc.rec, tail.rec}
	waitDeliveries(t, consumers, func(r *recorder) bool { return len(r.delivered()) > 0 }, "a first change", 60*time.Second)

	// Kill and restart replicas one at a time while the workload runs.
	for round := range killRounds {
		time.Sleep(killEvery)
		r := replicas[round%len(replicas)]
		r.kill(t)
		time.Sleep(downFor)
		r.start(t)
		lb.waitUp(t, r.name)
		t.Logf("round %d: %s SIGKILLed, restarted on %s, UP again in HAProxy", round+1, r.name, r.addr)
	}
	time.Sleep(killEvery) // a few more rotations across the healthy set

	// The log up to now; every consumer must get past its end.
	log := simLog(t, uri)
	if len(log) == 0 {
		t.Fatal("the simulator logged no changes")
	}
	end := log[len(log)-1]
	waitDeliveries(t, consumers, func(r *recorder) bool { return r.reached(end) }, fmt.Sprintf("the log's end (tx %d, seq %d)", end.tx, end.seq), 2*time.Minute)
	goc.stop()
	tail.finish(t)
	cancel()
	waitScraper()
	if goc.err != nil {
		t.Errorf("go-client subscription ended: %v", goc.err)
	}

	var parts []string
	lost, repeated, disordered := 0, 0, 0
	for _, rec := range consumers {
		c := compare(rec.name, log, rec.delivered())
		lost += c.lost
		repeated += c.repeated
		disordered += c.disordered + c.unknown
		parts = append(parts, fmt.Sprintf("delivered[%s]=%d", rec.name, c.delivered))
		if !c.ok() {
			t.Errorf("%s; first: %s", c, c.first)
		}
		if rec.bad != "" {
			t.Errorf("%s printed a line that is not a change: %s", rec.name, rec.bad)
		}
	}
	stats, err := lb.serverStats()
	if err != nil {
		t.Fatalf("HAProxy stats: %v", err)
	}
	var per []string
	for _, r := range replicas {
		s := r.total()
		per = append(per, fmt.Sprintf("%s streams=%.0f changes=%.0f haproxy-calls=%d starts=%d", r.name, s.streams, s.changes, stats[r.name].sessions, r.starts))
		if s.streams == 0 || s.changes == 0 {
			t.Errorf("replica %s served nothing (streams %.0f, changes %.0f)", r.name, s.streams, s.changes)
		}
	}
	verdict := fmt.Sprintf("scale verdict: logged=%d %s lost=%d repeated=%d out-of-order=%d kills=%d stream-age=%s | %s | %s in %s",
		len(log), strings.Join(parts, " "), lost, repeated, disordered, killRounds, scaleStreamAge, strings.Join(per, " | "),
		map[bool]string{true: "PASS", false: "FAIL"}[!t.Failed()], time.Since(began).Round(time.Second))
	fmt.Println(verdict)
	t.Log(verdict)
}

// waitDeliveries waits until cond holds for every consumer.
func waitDeliveries(t *testing.T, recs []*recorder, cond func(*recorder) bool, what string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var behind []string
		for _, r := range recs {
			if !cond(r) {
				behind = append(behind, fmt.Sprintf("%s (%d delivered)", r.name, len(r.delivered())))
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v, %s did not reach %s", within, strings.Join(behind, ", "), what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
