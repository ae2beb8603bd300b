// Package proctest runs the module's commands (and other programs, such as a load balancer) as
// real processes, for tests that must meet the binaries as users do (signals, exit statuses,
// logs, the argument list). It builds commands once per test binary, starts cdcstreamd waiting
// for its "listening" log line, and starts any process waiting for lines it names.
// Only tests import it.
package proctest

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
)

// StartTimeout bounds how long a daemon may take to log that it listens.
const StartTimeout = 90 * time.Second

var (
	buildMu  sync.Mutex          // guards buildDir and built
	buildDir string              // where Build puts binaries, made on first use
	built    = map[string]bool{} // import paths already built into buildDir
)

// Build compiles the given commands (full import paths) into a directory shared by the test
// binary, once each, and returns their paths in order.
func Build(t testing.TB, pkgs ...string) []string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "cdcstream-proctest-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
	}
	var todo []string
	for _, p := range pkgs {
		if !built[p] {
			todo = append(todo, p)
		}
	}
	if len(todo) > 0 {
		out, err := exec.Command("go", append([]string{"build", "-o", buildDir + string(filepath.Separator)}, todo...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %v: %v\n%s", todo, err, out)
		}
		for _, p := range todo {
			built[p] = true
		}
	}
	paths := make([]string, len(pkgs))
	for i, p := range pkgs {
		paths[i] = filepath.Join(buildDir, filepath.Base(p))
	}
	return paths
}

// Remove deletes what Build made; call it from TestMain after m.Run.
func Remove() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
		buildDir, built = "", map[string]bool{}
	}
}

// Log is an io.Writer safe for concurrent writes (a process's output, a logger's sink) that a
// test reads while it grows.
type Log struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

// Write implements io.Writer.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	listeningRE = regexp.MustCompile(`msg="?listening"? address=(\S+)`)
	metricsRE   = regexp.MustCompile(`msg="serving metrics" address=(\S+)`)
)

// Daemon is a running process started by StartDaemon or StartProcess.
type Daemon struct {
	// Cmd is the process.
	Cmd *exec.Cmd
	// Log is everything it wrote: stdout and stderr, or only stderr when Options.Stdout is set.
	Log *Log
	// Addr is its gRPC address, from its "listening" log line (StartDaemon only).
	Addr string
	// MetricsURL is its /metrics URL when --metrics-listen was given (StartDaemon only).
	MetricsURL string

	exited   chan struct{} // closed once it exited and its output was read; err is set then
	err      error
	stopOnce sync.Once
}

// Options shape how StartProcess runs a command.
type Options struct {
	// Env is added to the test's environment.
	Env []string
	// Ready lists patterns StartProcess waits for, each matched once against the lines the
	// process writes to Log, in any order; StartProcess returns the submatches of each.
	Ready []*regexp.Regexp
	// Stdout, when set, receives the process's standard output unchanged (Log then holds only
	// standard error, and Ready matches only that).
	Stdout io.Writer
	// ExtraFiles are inherited by the process as file descriptors 3, 4, ...
	ExtraFiles []*os.File
}

// StartProcess runs bin with args, waits (up to StartTimeout) until every pattern of o.Ready
// matched a line of its output, and stops it when the test ends. It returns the process and
// the submatches of each Ready pattern, in the order of o.Ready.
func StartProcess(t testing.TB, bin string, o Options, args ...string) (*Daemon, [][]string) {
	t.Helper()
	d := &Daemon{Cmd: exec.Command(bin, args...), Log: &Log{}, exited: make(chan struct{})}
	d.Cmd.Env = append(os.Environ(), o.Env...)
	d.Cmd.ExtraFiles = o.ExtraFiles
	pr, pw := io.Pipe()
	d.Cmd.Stderr, d.Cmd.Stdout = pw, pw
	if o.Stdout != nil {
		d.Cmd.Stdout = o.Stdout
	}
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// matches receives (pattern index, submatches) for the first line matching each pattern;
	// drained closes at the output's end.
	type match struct {
		i  int
		sm []string
	}
	matches, drained := make(chan match, len(o.Ready)), make(chan struct{})
	go func() {
		defer close(drained)
		seen := make([]bool, len(o.Ready))
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.Log, line)
			for i, re := range o.Ready {
				if seen[i] {
					continue
				}
				if sm := re.FindStringSubmatch(line); sm != nil {
					seen[i] = true
					matches <- match{i, sm}
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		d.err = d.Cmd.Wait()
		pw.Close()
		<-drained
		close(d.exited)
	}()
	t.Cleanup(d.Stop)
	got := make([][]string, len(o.Ready))
	deadline := time.After(StartTimeout)
	for n := 0; n < len(o.Ready); n++ {
		select {
		case m := <-matches:
			got[m.i] = m.sm
		case <-d.exited:
			t.Fatalf("%s exited before it was ready: %v\n%s", filepath.Base(bin), d.err, d.Log)
		case <-deadline:
			t.Fatalf("%s was not ready within %v:\n%s", filepath.Base(bin), StartTimeout, d.Log)
		}
	}
	return d, got
}

// StartDaemon runs bin (cdcstreamd) with args and env added to the environment, waits until
// it logs its listen address (and its metrics address when --metrics-listen is among args),
// and stops it when the test ends.
func StartDaemon(t testing.TB, bin string, env []string, args ...string) *Daemon {
	t.Helper()
	ready := []*regexp.Regexp{listeningRE}
	for _, a := range args {
		if a == "--metrics-listen" || strings.HasPrefix(a, "--metrics-listen=") {
			ready = append(ready, metricsRE)
			break
		}
	}
	d, got := StartProcess(t, bin, Options{Env: env, Ready: ready}, args...)
	d.Addr = got[0][1]
	if len(got) > 1 {
		d.MetricsURL = "http://" + strings.TrimPrefix(got[1][1], "http://")
	}
	return d
}

// Signal sends sig to the process.
func (d *Daemon) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := d.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Wait waits up to timeout for the process to exit. exited is false on timeout; otherwise
// err is its exit error (nil for status 0).
func (d *Daemon) Wait(timeout time.Duration) (exited bool, err error) {
	select {
	case <-d.exited:
		return true, d.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Kill ends the process with SIGKILL and waits until it exited and its output was read.
func (d *Daemon) Kill() {
	d.stopOnce.Do(func() {
		_ = d.Cmd.Process.Kill()
		<-d.exited
	})
}

// Exited is closed once the process exited and its output was read.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Stop ends the process with SIGTERM (SIGKILL after 30s) and waits for its output.
func (d *Daemon) Stop() {
	d.stopOnce.Do(func() {
		_ = d.Cmd.Process.Signal(syscall.SIGTERM)
		if exited, _ := d.Wait(30 * time.Second); !exited {
			_ = d.Cmd.Process.Kill()
			<-d.exited
		}
	})
}
