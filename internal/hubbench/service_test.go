package hubbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// startInProcess runs the real server package over a neo4jcdc Source (real driver, TCP) to
// uri, on a real gRPC server on loopback, and returns a generated-stub client of it. All of
// it stops when the benchmark ends.
func startInProcess(tb testing.TB, uri string, opts ...server.Option) cdcstreamv1.ChangeStreamServiceClient {
	tb.Helper()
	src, err := neo4jcdc.Open(context.Background(), uri, simUser, simPassword, neo4jcdc.WithLogger(quietLogger()))
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := server.New(src, append([]server.Option{server.WithDefaultDatabase(simDatabase), server.WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	// Cleanups run last in, first out: the connection closes, the service shuts down, the
	// gRPC server stops, then the driver closes.
	tb.Cleanup(func() { _ = src.Close(context.Background()) })
	conn, _ := testkit.Serve(tb, svc.Register, testkit.ServerOptions(grpc.WaitForHandlers(true)),
		testkit.BeforeStop(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = svc.Shutdown(ctx)
		}))
	return cdcstreamv1.NewChangeStreamServiceClient(conn)
}

// readChanges subscribes with req and reads until it received want changes, returning their
// cursor ids when keep is set. It is the plain consumer of the generated stub: per change it
// touches the cursor id, tx id and seq and the event's kind, operation and element id, what
// the direct loop touches of a record.
func readChanges(ctx context.Context, cli cdcstreamv1.ChangeStreamServiceClient, req *cdcstreamv1.SubscribeRequest, want int, keep bool) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cli.Subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	var ids []string
	for got := 0; got < want; {
		msg, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("after %d changes: %w", got, err)
		}
		ch := msg.GetChange()
		if ch == nil {
			continue
		}
		if err := touch(ch); err != nil {
			return nil, err
		}
		got++
		if keep {
			ids = append(ids, ch.GetCursor().GetId())
		}
	}
	return ids, nil
}

// touch reads of a change what a typical consumer uses, failing on a change without them.
func touch(ch *cdcstreamv1.ChangeEvent) error {
	var op cdcstreamv1.Operation
	var elementID string
	switch {
	case ch.GetNode() != nil:
		op, elementID = ch.GetNode().GetOperation(), ch.GetNode().GetElementId()
	case ch.GetRelationship() != nil:
		op, elementID = ch.GetRelationship().GetOperation(), ch.GetRelationship().GetElementId()
	}
	if ch.GetCursor().GetId() == "" || ch.GetTxId() == 0 || op == cdcstreamv1.Operation_OPERATION_UNSPECIFIED || elementID == "" {
		return fmt.Errorf("change without cursor, tx id, operation or element id: %v", ch)
	}
	_ = ch.GetSeq()
	return nil
}

// earliest is a subscription to the default database from EARLIEST with selectors.
func earliest(selectors ...*cdcstreamv1.Selector) *cdcstreamv1.SubscribeRequest {
	return &cdcstreamv1.SubscribeRequest{
		Database:  simDatabase,
		Start:     &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
		Selectors: selectors,
	}
}

// daemon is cdcstreamd running as its own process against a simulator.
type daemon struct {
	d *proctest.Daemon
	// conns are client connections to it, each carrying at most streamsPerConn streams (the
	// daemon allows 100 concurrent streams per connection by default).
	conns []*grpc.ClientConn
}

// streamsPerConn is how many streams the benchmarks open on one client connection.
const streamsPerConn = 50

// startDaemon builds and starts cdcstreamd against uri with /metrics on, args appended to
// the defaults, and dials enough connections for subs streams.
func startDaemon(tb testing.TB, uri string, subs int, args ...string) *daemon {
	tb.Helper()
	bin := proctest.Build(tb, "github.com/cdcstream/cdcstream/cmd/cdcstreamd")[0]
	all := append([]string{"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--neo4j-uri", uri, "--neo4j-user", simUser, "--database", simDatabase,
		"--max-subscriptions", strconv.Itoa(subs + 10), "--log-level", "info"}, args...)
	d := &daemon{d: proctest.StartDaemon(tb, bin, []string{"NEO4J_PASSWORD=" + simPassword}, all...)}
	for range (subs + streamsPerConn - 1) / streamsPerConn {
		d.conns = append(d.conns, testkit.Dial(tb, d.d.Addr))
	}
	if len(d.conns) == 0 {
		d.conns = append(d.conns, testkit.Dial(tb, d.d.Addr))
	}
	return d
}

// client returns the generated-stub client for the i-th stream.
func (d *daemon) client(i int) cdcstreamv1.ChangeStreamServiceClient {
	return cdcstreamv1.NewChangeStreamServiceClient(d.conns[(i/streamsPerConn)%len(d.conns)])
}

// rssBytes is the daemon's resident set size (VmRSS of /proc/PID/status).
func (d *daemon) rssBytes(tb testing.TB) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.d.Cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kib << 10
		}
	}
	tb.Fatal("no VmRSS in /proc status")
	return 0
}

// metrics scrapes the daemon's /metrics and returns the sum of every sample of each named
// metric (over all label sets).
func (d *daemon) metrics(tb testing.TB, names ...string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(d.d.MetricsURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %v %s", err, resp.Status)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		base, _, _ := strings.Cut(name, "{")
		for _, n := range names {
			if base != n {
				continue
			}
			if i := strings.LastIndexByte(line, '}'); i >= 0 {
				rest = strings.TrimSpace(line[i+1:])
			}
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				tb.Fatalf("bad metrics line %q", line)
			}
			v, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				tb.Fatalf("bad metrics line %q: %v", line, err)
			}
			out[n] += v
		}
	}
	return out
}
