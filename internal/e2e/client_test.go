package e2e

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// restartable is a cdcstream server process that can be killed and started again on the same
// address: each start is a fresh driver, Source, Server and gRPC server, as after a restart.
type restartable struct {
	t    *testing.T
	tg   *simTarget
	addr string
	gs   *grpc.Server
	svc  *server.Server
	src  *neo4jcdc.Source
	done chan struct{} // closed when the current Serve returns
	// grpcOpts are extra options for every gRPC server start creates.
	grpcOpts []grpc.ServerOption
	// svcOpts are extra options for every service start creates.
	svcOpts []server.Option
}

func (r *restartable) start() {
	r.t.Helper()
	src, err := neo4jcdc.Open(context.Background(), r.tg.uri(), simUser, simPassword, neo4jcdc.WithLogger(quietLogger()), neo4jcdc.WithMaxRetryTime(time.Second))
	if err != nil {
		r.t.Fatalf("neo4jcdc.Open: %v", err)
	}
	svc, err := server.New(src, append([]server.Option{server.WithPollInterval(20 * time.Millisecond),
		server.WithBatchLimit(50), server.WithLogger(quietLogger())}, r.svcOpts...)...)
	if err != nil {
		r.t.Fatalf("server.New: %v", err)
	}
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	waitFor(r.t, "the port to be free again", 10*time.Second, func() bool {
		lis, err = net.Listen("tcp", addr)
		return err == nil
	})
	r.addr = lis.Addr().String()
	r.gs, r.svc, r.src, r.done = grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, r.grpcOpts...)...), svc, src, make(chan struct{})
	svc.Register(r.gs)
	go func(gs *grpc.Server, done chan struct{}) { defer close(done); _ = gs.Serve(lis) }(r.gs, r.done)
}

// stop kills the server: gracefully (final checkpoint, SERVER_SHUTTING_DOWN) or abruptly.
func (r *restartable) stop(graceful bool) {
	if graceful {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = r.svc.Shutdown(ctx)
		cancel()
	}
	r.gs.Stop()
	<-r.done
	_ = r.src.Close(context.Background())
}

// TestClientSurvivesRestarts: while a workload runs, the gRPC server is killed and restarted
// several times (gracefully and abruptly) and the simulator drops every Bolt connection; the
// client library's caller still receives every change exactly once, in order, compared with
// the simulator's own log.
func TestClientSurvivesRestarts(t *testing.T) {
	tg := newSimTarget(t)
	r := &restartable{t: t, tg: tg}
	r.start()
	defer func() { r.stop(false) }()

	start, err := tg.db.Current()
	if err != nil {
		t.Fatal(err)
	}
	conn := testkit.Dial(t, r.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := client.New(conn, client.WithBackoff(5*time.Millisecond, 100*time.Millisecond), client.WithLogger(quietLogger())).
		Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
			Database: simDatabase, Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: start, Database: simDatabase}},
			CheckpointInterval: s1(),
		})
	defer sub.Close()

	const txs = 240
	wl := neo4jsim.NewWorkload(tg.db, 42)
	wrote := make(chan error, 1) // the writer's result
	chaos := make(chan int, txs) // the writer announces each committed transaction
	go func() {
		for i := range txs {
			if _, err := wl.Step(); err != nil {
				wrote <- err
				return
			}
			chaos <- i
		}
		close(chaos)
		wrote <- nil
	}()
	chaosDone := make(chan struct{}) // closed when the chaos goroutine has finished restarting
	defer func() { <-chaosDone }()
	go func() {
		defer close(chaosDone)
		for i := range chaos {
			switch i {
			case 40, 120, 200:
				r.stop(i == 120) // one graceful, two abrupt
				r.start()
			case 80, 160:
				tg.srv.DropConnections()
			}
		}
	}()

	got := receiveExactlyTheLog(t, sub, tg, start, wrote)
	t.Logf("%d changes from %d transactions received exactly once, in order, across 3 server restarts and 2 dropped Bolt pools", got, txs)
}

// receiveExactlyTheLog reads sub until it has every change the simulator logged after start
// (the log is read once wrote reports the writer finished), and fails unless the changes are
// exactly the log's, each once, in order. It returns how many changes that was.
func receiveExactlyTheLog(t *testing.T, sub *client.Subscription, tg *simTarget, start string, wrote <-chan error) int {
	t.Helper()
	type pos struct{ tx, seq int64 }
	var got, want []pos
	for want == nil || len(got) < len(want) {
		if !sub.Receive() {
			t.Fatalf("subscription ended after %d changes: %v", len(got), sub.Err())
		}
		if ch := sub.Msg().GetChange(); ch != nil {
			got = append(got, pos{ch.TxId, ch.Seq})
		}
		if want == nil {
			select {
			case err := <-wrote:
				if err != nil {
					t.Fatalf("workload: %v", err)
				}
				recs, err := tg.db.Query(neo4jsim.User{Name: simUser, Admin: true}, start, nil)
				if err != nil {
					t.Fatal(err)
				}
				want = make([]pos, 0, len(recs))
				for _, rec := range recs {
					want = append(want, pos{rec.TxID, rec.Seq})
				}
			default:
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("received %d changes, the log has %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("change %d: got (tx %d, seq %d), want (tx %d, seq %d)", i, got[i].tx, got[i].seq, want[i].tx, want[i].seq)
		}
	}
	return len(got)
}

// TestClientAcrossRotations: with --max-stream-age (server.WithMaxStreamAge) streams end about
// every second with a final checkpoint and STREAM_ROTATED; while a workload runs,
// the client library's caller still sees the simulator's log exactly once, in order.
func TestClientAcrossRotations(t *testing.T) {
	tg := newSimTarget(t)
	var calls atomic.Int64 // Subscribe calls that reached the server
	count := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		calls.Add(1)
		return h(srv, ss)
	}
	r := &restartable{t: t, tg: tg, grpcOpts: []grpc.ServerOption{grpc.ChainStreamInterceptor(count)},
		svcOpts: []server.Option{server.WithMaxStreamAge(server.MinMaxStreamAge)}}
	r.start()
	defer r.stop(false)
	start, err := tg.db.Current()
	if err != nil {
		t.Fatal(err)
	}
	conn := testkit.Dial(t, r.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := client.New(conn, client.WithLogger(quietLogger())).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: start, Database: simDatabase}},
	})
	defer sub.Close()

	wl := neo4jsim.NewWorkload(tg.db, 9)
	wrote := make(chan error, 1) // the writer's result
	go func() {
		for range 60 {
			if _, err := wl.Step(); err != nil {
				wrote <- err
				return
			}
			time.Sleep(70 * time.Millisecond) // pace the workload across several stream ages
		}
		wrote <- nil
	}()
	n := receiveExactlyTheLog(t, sub, tg, start, wrote)
	if c := calls.Load(); c < 3 {
		t.Fatalf("only %d Subscribe calls: the streams were not rotated", c)
	}
	t.Logf("%d changes received exactly once, in order, across %d rotated streams", n, calls.Load())
}
