package polyglot

import (
	"context"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// daemonStartTimeout bounds how long cdcstreamd may take to log its address and turn SERVING.
const daemonStartTimeout = 60 * time.Second

// daemon is a running cdcstreamd process.
type daemon struct {
	*proctest.Daemon
	addr string
}

// logText returns what the daemon logged so far.
func (d *daemon) logText() string { return d.Log.String() }

// startDaemon builds and starts `cdcstreamd --demo` on 127.0.0.1:0 with a fixed seed, waits
// until it logs its address and its health service reports SERVING, and stops it (SIGTERM, then
// SIGKILL) when the test ends.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"--demo", "--demo-seed", "7", "--demo-rate", "50", "--listen", "127.0.0.1:0",
		"--shutdown-grace", "2s", "--log-format", "text"}, extra...)
	p := proctest.StartDaemon(t, cdcstreamd(t), nil, args...)
	d := &daemon{Daemon: p, addr: p.Addr}
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
	return testkit.Dial(t, d.addr)
}
