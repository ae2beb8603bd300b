package scaletest

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/cdcstream/cdcstream/internal/proctest"
)

// haproxyConfig holds the fields of deploy/haproxy/cdcstream.cfg.tmpl.
type haproxyConfig struct {
	// Bind is the frontend's bind address ("fd@3": the socket the test passes in).
	Bind string
	// StatsSocket is the path of the admin socket the test reads server states from.
	StatsSocket string
	// CheckInterval is the health check interval of every server.
	CheckInterval string
	// Servers are the cdcstreamd replicas.
	Servers []haproxyServer
}

// haproxyServer is one server line of the backend.
type haproxyServer struct{ Name, Addr string }

// balancer is a running HAProxy.
type balancer struct {
	proc *proctest.Daemon
	// addr is the frontend's address, where consumers connect.
	addr string
	// stats is the admin socket's path.
	stats string
}

// startHAProxy renders the deploy template for servers, checks it with `haproxy -c`, and runs
// HAProxy in the foreground on a listener the test opened on 127.0.0.1 port 0 (passed as fd 3).
func startHAProxy(t *testing.T, bin string, servers []haproxyServer) *balancer {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join(repoRoot, "deploy", "haproxy", "cdcstream.cfg.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	// A short directory: a unix socket path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "cdcscale-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := haproxyConfig{Bind: "fd@3", StatsSocket: filepath.Join(dir, "admin.sock"), CheckInterval: "500ms", Servers: servers}
	var b strings.Builder
	if err := tmpl.Execute(&b, cfg); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := lis.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(bin, "-c", "-f", path)
	check.ExtraFiles = []*os.File{f}
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejects the rendered deploy/haproxy/cdcstream.cfg.tmpl: %v\n%s\n%s", err, out, b.String())
	}
	addr := lis.Addr().String()
	// -db: foreground, no daemon; the listener is HAProxy's from now on.
	proc, _ := proctest.StartProcess(t, bin, proctest.Options{ExtraFiles: []*os.File{f}}, "-db", "-f", path)
	f.Close()
	lis.Close()
	return &balancer{proc: proc, addr: addr, stats: cfg.StatsSocket}
}

// serverStat is one server's row of HAProxy's `show stat`.
type serverStat struct {
	// status is UP, DOWN, "UP 1/2" and so on.
	status string
	// sessions is stot: the calls (HTTP/2 streams) HAProxy sent to the server so far.
	sessions int
}

// serverStats reads `show stat` from the admin socket: the backend's servers by name.
func (b *balancer) serverStats() (map[string]serverStat, error) {
	c, err := net.DialTimeout("unix", b.stats, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReader(c))
	r.FieldsPerRecord = -1
	r.Comment = 0
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("show stat: no output")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	pxname, svname, stot, status := col["pxname"], col["svname"], col["stot"], col["status"]
	out := map[string]serverStat{}
	for _, row := range rows[1:] {
		if len(row) <= status || row[pxname] != "cdcstreamd" || row[svname] == "BACKEND" {
			continue
		}
		n, _ := strconv.Atoi(row[stot])
		out[row[svname]] = serverStat{status: row[status], sessions: n}
	}
	return out, nil
}

// waitUp waits until HAProxy's health check reports server name UP.
func (b *balancer) waitUp(t *testing.T, name string) { t.Helper(); b.waitStatus(t, name, "UP") }

// waitStatus waits until HAProxy reports server name in state want (UP, DOWN).
func (b *balancer) waitStatus(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		st, err := b.serverStats()
		switch {
		case err != nil:
			last = err.Error()
		case st[name].status == want:
			return
		default:
			last = st[name].status
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("HAProxy never saw %s %s (last: %s)\n%s", name, want, last, b.proc.Log)
}
