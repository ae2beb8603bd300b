// Package proctest runs the module's commands as real processes, for tests that must meet
// the binaries as users do (signals, exit statuses, logs, the argument list). It builds
// commands once per test binary and starts cdcstreamd, waiting for its "listening" log line.
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

// Daemon is a running cdcstreamd.
type Daemon struct {
	// Cmd is the process.
	Cmd *exec.Cmd
	// Log is everything it wrote, stdout and stderr.
	Log *Log
	// Addr is its gRPC address, from its "listening" log line.
	Addr string
	// MetricsURL is its /metrics URL when --metrics-listen was given.
	MetricsURL string

	exited   chan struct{} // closed once it exited and its output was read; err is set then
	err      error
	stopOnce sync.Once
}

// StartDaemon runs bin (cdcstreamd) with args and env added to the environment, waits until
// it logs its listen address (and its metrics address when --metrics-listen is among args),
// and stops it when the test ends.
func StartDaemon(t testing.TB, bin string, env []string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{Cmd: exec.Command(bin, args...), Log: &Log{}, exited: make(chan struct{})}
	d.Cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	d.Cmd.Stderr, d.Cmd.Stdout = pw, pw
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// addrs and metrics receive the addresses as logged; drained closes at the output's end.
	addrs, metrics, drained := make(chan string, 1), make(chan string, 1), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.Log, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
			if m := metricsRE.FindStringSubmatch(line); m != nil {
				select {
				case metrics <- "http://" + strings.TrimPrefix(m[1], "http://"):
				default:
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
	wantMetrics := false
	for _, a := range args {
		wantMetrics = wantMetrics || a == "--metrics-listen" || strings.HasPrefix(a, "--metrics-listen=")
	}
	deadline := time.After(StartTimeout)
	for d.Addr == "" || (wantMetrics && d.MetricsURL == "") {
		select {
		case d.Addr = <-addrs:
		case d.MetricsURL = <-metrics:
		case <-d.exited:
			t.Fatalf("cdcstreamd exited before listening: %v\n%s", d.err, d.Log)
		case <-deadline:
			t.Fatalf("cdcstreamd did not log its address within %v:\n%s", StartTimeout, d.Log)
		}
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
