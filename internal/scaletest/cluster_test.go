package scaletest

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cdcstream/cdcstream/internal/proctest"
)

const (
	simUser     = "neo4j"
	simPassword = "scale-test-password"
	simDatabase = "neo4j"
)

// binaries are the module's commands the tests run as processes.
type binaries struct{ neo4jsim, cdcstreamd, cdctail string }

// build compiles the commands once per test binary.
func build(t *testing.T) binaries {
	t.Helper()
	p := proctest.Build(t, "github.com/cdcstream/cdcstream/cmd/neo4jsim",
		"github.com/cdcstream/cdcstream/cmd/cdcstreamd", "github.com/cdcstream/cdcstream/cmd/cdctail")
	return binaries{p[0], p[1], p[2]}
}

// simServingRE matches neo4jsim's start line, capturing its bolt:// URI.
var simServingRE = regexp.MustCompile(`neo4jsim serving (bolt://\S+)`)

// startSim runs neo4jsim on 127.0.0.1 port 0 with its workload generator at rate
// transactions per second, plus extra flags, and returns the process and its bolt:// URI.
func startSim(t *testing.T, bin string, rate float64, extra ...string) (*proctest.Daemon, string) {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--user", simUser, "--password", simPassword,
		"--database", simDatabase, "--workload-rate", fmt.Sprint(rate), "--seed", "13"}, extra...)
	d, m := proctest.StartProcess(t, bin, proctest.Options{Ready: []*regexp.Regexp{simServingRE}}, args...)
	return d, m[0][1]
}

// served is what one replica served, summed over its incarnations (each restart begins its
// counters at zero).
type served struct {
	// streams counts Subscribe calls started (grpc_server_started_total).
	streams float64
	// changes counts ChangeEvents sent (cdcstream_changes_sent_total).
	changes float64
}

// replica is one cdcstreamd that the test kills and restarts on the same address, so that
// the balancer's server line stays valid.
type replica struct {
	name string
	bin  string
	args []string
	// addr is the fixed gRPC address, chosen by the first start (port 0).
	addr string

	mu sync.Mutex // guards proc, past and last
	// proc is the running incarnation, nil while killed.
	proc *proctest.Daemon
	// past sums the final counts of the incarnations that ended.
	past served
	// last is the newest scrape of the running incarnation.
	last served
	// starts counts the incarnations started.
	starts int
}

// newReplica starts cdcstreamd against the simulator at uri with extra flags.
func newReplica(t *testing.T, name, bin, uri string, extra ...string) *replica {
	t.Helper()
	r := &replica{name: name, bin: bin, args: append([]string{"--neo4j-uri", uri, "--neo4j-user", simUser,
		"--metrics-listen", "127.0.0.1:0", "--shutdown-grace", "2s"}, extra...)}
	r.start(t)
	return r
}

// start runs a new incarnation: on port 0 the first time, on r.addr after that.
func (r *replica) start(t *testing.T) {
	t.Helper()
	listen := r.addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	d := proctest.StartDaemon(t, r.bin, []string{"NEO4J_PASSWORD=" + simPassword}, append([]string{"--listen", listen}, r.args...)...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addr, r.proc, r.last = d.Addr, d, served{}
	r.starts++
}

// kill scrapes the running incarnation one last time and SIGKILLs it.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.scrape()
	r.mu.Lock()
	d := r.proc
	r.proc = nil
	r.past.streams += r.last.streams
	r.past.changes += r.last.changes
	r.last = served{}
	r.mu.Unlock()
	if d != nil {
		d.Kill()
	}
}

// total is what the replica served so far: every ended incarnation plus the newest scrape of
// the running one. Changes sent between an incarnation's last scrape and its SIGKILL are not
// counted, so this is a lower bound.
func (r *replica) total() served {
	r.mu.Lock()
	defer r.mu.Unlock()
	return served{r.past.streams + r.last.streams, r.past.changes + r.last.changes}
}

// scrape reads the running incarnation's /metrics into r.last.
func (r *replica) scrape() {
	r.mu.Lock()
	d := r.proc
	r.mu.Unlock()
	if d == nil {
		return
	}
	s, err := scrapeServed(d.MetricsURL)
	if err != nil {
		return // killed meanwhile, or busy: the previous scrape stands
	}
	r.mu.Lock()
	if r.proc == d {
		r.last = s
	}
	r.mu.Unlock()
}

// scrapeServed reads a cdcstreamd /metrics page: Subscribe calls started and changes sent.
func scrapeServed(url string) (served, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return served{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return served{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return served{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return served{}, err
	}
	var s served
	if f := fams["grpc_server_started_total"]; f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_method" && l.GetValue() == "Subscribe" {
					s.streams += m.GetCounter().GetValue()
				}
			}
		}
	}
	if f := fams["cdcstream_changes_sent_total"]; f != nil {
		for _, m := range f.GetMetric() {
			s.changes += m.GetCounter().GetValue()
		}
	}
	return s, nil
}

// scrapeEvery scrapes every replica every interval until ctx is done; the returned function
// waits for the scraper to stop.
func scrapeEvery(ctx context.Context, interval time.Duration, rs []*replica) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, r := range rs {
					r.scrape()
				}
			}
		}
	}()
	return func() { <-done }
}
