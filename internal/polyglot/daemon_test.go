package polyglot

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// daemonStartTimeout bounds how long cdcstreamd may take to log its address and turn SERVING.
const daemonStartTimeout = 60 * time.Second

// listeningRE finds the address in cdcstreamd's start-up log line (slog text format):
// `level=INFO msg=listening address=127.0.0.1:40123 ...`.
var listeningRE = regexp.MustCompile(`msg="?listening"? address=(\S+)`)

// daemon is a running cdcstreamd process.
type daemon struct {
	addr string

	// mu guards log.
	mu sync.Mutex
	// log collects the daemon's stderr, shown when a test fails.
	log strings.Builder
}

// logText returns what the daemon logged so far.
func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// startDaemon builds and starts `cdcstreamd --demo` on 127.0.0.1:0 with a fixed seed, waits
// until it logs its address and its health service reports SERVING, and stops it (SIGTERM, then
// SIGKILL) when the test ends.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	bin := cdcstreamd(t)
	args := append([]string{"--demo", "--demo-seed", "7", "--demo-rate", "50", "--listen", "127.0.0.1:0",
		"--shutdown-grace", "2s", "--log-format", "text"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{}
	addrc := make(chan string, 1)  // receives the listening address, once
	logDone := make(chan struct{}) // closed when stderr reached EOF
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil && !sent {
				addrc <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	exited := make(chan error, 1) // receives Wait's result
	go func() {
		<-logDone // Wait closes the pipe; read it to the end first
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("cdcstreamd did not stop within 15s of SIGTERM; killed\n%s", d.logText())
		}
	})
	select {
	case d.addr = <-addrc:
	case err := <-exited:
		exited <- err
		t.Fatalf("cdcstreamd exited before listening: %v\n%s", err, d.logText())
	case <-time.After(daemonStartTimeout):
		t.Fatalf("cdcstreamd did not log `msg=listening address=...` within %v\n%s", daemonStartTimeout, d.logText())
	}
	d.waitServing(t)
	return d
}

// waitServing polls the standard health service until it reports SERVING.
func (d *daemon) waitServing(t *testing.T) {
	t.Helper()
	conn := d.dial(t)
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), daemonStartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("cdcstreamd at %s not SERVING within %v (last: %v, %v)\n%s", d.addr, daemonStartTimeout, resp.GetStatus(), err, d.logText())
		case <-tick.C:
		}
	}
}

// dial opens a plaintext client connection to the daemon, closed when the test ends.
func (d *daemon) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
