package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
)

// Helpers of the tests that run the real binaries (secrets_test.go, tls_e2e_test.go).

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds cdcstreamd and cdctail once per test run.
func binaries(t *testing.T) (cdcstreamd, cdctail string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "cdcstreamd-test-bin")
		if buildErr != nil {
			return
		}
		if out, err := exec.Command("go", "build", "-o", buildDir, ".", "../cdctail").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "cdcstreamd"), filepath.Join(buildDir, "cdctail")
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	listenLineRE  = regexp.MustCompile(`msg=listening address=(\S+)`)
	metricsLineRE = regexp.MustCompile(`msg="serving metrics" address=(\S+)`)
)

// proc is a running cdcstreamd.
type proc struct {
	cmd *exec.Cmd
	// log is everything it wrote (stdout and stderr).
	log *lockedBuffer
	// addr is its gRPC address; metricsURL its /metrics URL when --metrics-listen was given.
	addr, metricsURL string
	exited           chan struct{} // closed once it exited and its output was read
	stopOnce         sync.Once
}

// startProc runs cdcstreamd with env added to the environment and waits until it listens.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	bin, _ := binaries(t)
	p := &proc{cmd: exec.Command(bin, args...), log: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stderr, p.cmd.Stdout = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// addrs receives the gRPC address, metrics the metrics URL, as logged.
	addrs, metrics := make(chan string, 1), make(chan string, 1)
	drained := make(chan struct{}) // closed when the output is read to its end
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.log, line)
			if m := listenLineRE.FindStringSubmatch(line); m != nil {
				addrs <- m[1]
			}
			if m := metricsLineRE.FindStringSubmatch(line); m != nil {
				metrics <- m[1]
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		pw.Close()
		<-drained
		close(p.exited)
	}()
	t.Cleanup(p.stop)
	wantMetrics := false
	for _, a := range args {
		wantMetrics = wantMetrics || a == "--metrics-listen"
	}
	deadline := time.After(90 * time.Second)
	for p.addr == "" || (wantMetrics && p.metricsURL == "") {
		select {
		case p.addr = <-addrs:
		case p.metricsURL = <-metrics:
		case <-p.exited:
			t.Fatalf("cdcstreamd exited before listening:\n%s", p.log)
		case <-deadline:
			t.Fatalf("cdcstreamd did not start:\n%s", p.log)
		}
	}
	return p
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// stop ends the process with SIGTERM (SIGKILL after 30s) and waits for its output.
func (p *proc) stop() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// startSim starts a Neo4j simulator on loopback whose user "cdc" has password, with n
// committed transactions, and returns it with its workload (for more transactions).
func startSim(t *testing.T, password string, n int) (*neo4jsim.Server, *neo4jsim.Workload) {
	t.Helper()
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: "cdc", Password: password, Admin: true}},
		Databases:   []string{"neo4j"},
		CaptureMode: "FULL",
	})
	sim, err := neo4jsim.NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	w := neo4jsim.NewWorkload(dbms.Database("neo4j"), 1)
	for i := 0; i < n; i++ {
		if _, err := w.Step(); err != nil {
			t.Fatal(err)
		}
	}
	return sim, w
}

// writeAtomically replaces file with content (as an operator's config management would).
func writeAtomically(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process; no event to wait on
	}
}
