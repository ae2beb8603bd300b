package main

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// served checks that a legitimate client is served: health answers and a Subscribe from
// EARLIEST delivers its first message.
func served(t *testing.T, addr string) {
	t.Helper()
	cc := dialGRPC(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("legitimate health check: %v", err)
	}
	sub, err := cdcstreamv1.NewChangeStreamServiceClient(cc).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Start: &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
	}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("legitimate subscribe: %v", err)
	}
	if _, err := sub.Recv(); err != nil {
		t.Fatalf("legitimate subscribe: first message: %v", err)
	}
}

// heapInuse is the process's in-use heap after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// rssBytes is the process's resident set (0 where /proc is missing).
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// attackStreams is how many HEADERS-only streams each attacking connection opens: 5 000, or
// CDCSTREAM_ATTACK_STREAMS (docs/operations.md's figures were measured with 40 000).
func attackStreams(t *testing.T) int {
	n := 5000
	if v := os.Getenv("CDCSTREAM_ATTACK_STREAMS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("CDCSTREAM_ATTACK_STREAMS: %v", err)
		}
	}
	return n
}

// The attack of issue 15, item 1: one connection per method opens thousands of streams with
// HEADERS only (no DATA, no END_STREAM), on the unauthenticated Health/Watch and on
// Subscribe. With --max-concurrent-streams the server holds at most that many per connection
// (the rest are refused with RST_STREAM), its goroutines and heap stay bounded by it, a
// legitimate client is served meanwhile, and --first-message-timeout ends the held streams
// with INVALID_ARGUMENT, after which the goroutines are back to where they were.
func TestHeadersOnlyStreamsBounded(t *testing.T) {
	n := attackStreams(t)
	// CDCSTREAM_MAX_CONCURRENT_STREAMS may be set by hand to compare with other limits.
	d, addr := startDaemon(t, env("CDCSTREAM_MAX_CONCURRENT_STREAMS", os.Getenv("CDCSTREAM_MAX_CONCURRENT_STREAMS")),
		"--first-message-timeout", "3s")
	limit := d.cfg.hardening.transport.maxConcurrentStreams
	served(t, addr) // its goroutines (the subscription's) are part of the baseline

	baseGoroutines, baseHeap, baseRSS := runtime.NumGoroutine(), heapInuse(), rssBytes()
	paths := []string{"/grpc.health.v1.Health/Watch", "/" + cdcstreamv1.ChangeStreamService_ServiceDesc.ServiceName + "/Subscribe"}
	conns := make([]*rawH2, len(paths))
	for i, p := range paths {
		conns[i] = dialH2(t, addr)
		conns[i].headersOnly(t, p, n)
	}
	for _, c := range conns {
		c.sync(t)
	}
	held := runtime.NumGoroutine() - baseGoroutines
	heap := int64(heapInuse()) - int64(baseHeap)
	rss := int64(rssBytes()) - int64(baseRSS)
	t.Logf("%d connections × %d HEADERS-only streams, --max-concurrent-streams %d: +%d goroutines, +%.1f MiB heap in use, +%.1f MiB RSS",
		len(conns), n, limit, held, float64(heap)/(1<<20), float64(rss)/(1<<20))

	// Per held stream: its handler and the guard's reader of the first message; per
	// connection: grpc-go's reader, writer and keepalive goroutines and this test's reader.
	if bound := len(conns) * (2*min(limit, n) + 8); held > bound {
		t.Errorf("%d goroutines held for %d streams, want at most %d", held, len(conns)*n, bound)
	}
	if heap > 32<<20 {
		t.Errorf("heap grew by %d MiB, want at most 32 MiB", heap>>20)
	}
	for i, c := range conns {
		if got, want := c.refused.Load(), int64(n-limit); got < want {
			t.Errorf("%s: %d streams refused, want at least %d", paths[i], got, want)
		}
	}
	served(t, addr)

	for i, c := range conns {
		waitFor(t, paths[i]+": held streams ended INVALID_ARGUMENT", func() bool {
			return c.status(strconv.Itoa(int(codes.InvalidArgument))) >= min(limit, n)
		})
	}
	if got := metricValue(t, d, "cdcstream_requests_rejected_total"); got < float64(len(conns)*min(limit, n)) {
		t.Errorf("cdcstream_requests_rejected_total = %v, want at least %d", got, len(conns)*min(limit, n))
	}
	waitFor(t, "goroutines back to the baseline", func() bool {
		return runtime.NumGoroutine() <= baseGoroutines+len(conns)*8
	})
}

// wantReason checks that err is a status with code and ErrorInfo reason in the service's
// domain.
func wantReason(t *testing.T, what string, err error, code codes.Code, reason cdcstreamv1.ErrorReason) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Errorf("%s: %v, want %v", what, err, code)
		return
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reason.String() && info.GetDomain() == server.ErrorDomain {
			return
		}
	}
	t.Errorf("%s: %v: no ErrorInfo %s in domain %s (details %v)", what, err, reason, server.ErrorDomain, st.Details())
}

// A call that never sends its request message, on a well-behaved HTTP/2 connection, ends
// with INVALID_ARGUMENT / INVALID_REQUEST after --first-message-timeout; so does a
// server-streaming call that sent its message but never half-closed.
func TestFirstMessageTimeout(t *testing.T) {
	d, addr := startDaemon(t, env(), "--first-message-timeout", "1s")
	cc := dialGRPC(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		send bool
	}{{"no message", false}, {"message, no half-close", true}} {
		s, err := cc.NewStream(ctx, subscribeDesc, subscribeMethod, rawCall)
		if err != nil {
			t.Fatal(err)
		}
		if c.send {
			if err := s.SendMsg(new(rawBytes)); err != nil {
				t.Fatal(err)
			}
		}
		wantReason(t, c.name, s.RecvMsg(new(rawBytes)), codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_REQUEST)
	}
	if got := metricValue(t, d, "cdcstream_requests_rejected_total"); got != 2 {
		t.Errorf("cdcstream_requests_rejected_total = %v, want 2", got)
	}
	served(t, addr)
}

// envCount is the integer environment variable key, or def.
func envCount(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return n
}

// The attack of issue 15, item 4: many TCP connections that never send a byte. With
// --max-connections 50 the server holds at most 50 (the rest are closed at accept and
// counted), --handshake-timeout closes the held ones, and a legitimate client is then served.
// CDCSTREAM_IDLE_CONNECTIONS, CDCSTREAM_MAX_CONNECTIONS and CDCSTREAM_HANDSHAKE_TIMEOUT scale
// it (docs/operations.md).
func TestIdleConnectionsCannotStarve(t *testing.T) {
	idle := envCount(t, "CDCSTREAM_IDLE_CONNECTIONS", 200)
	handshake := "1s"
	if v := os.Getenv("CDCSTREAM_HANDSHAKE_TIMEOUT"); v != "" {
		handshake = v
	}
	d, addr := startDaemon(t, env("CDCSTREAM_MAX_CONNECTIONS", strconv.Itoa(envCount(t, "CDCSTREAM_MAX_CONNECTIONS", 50)),
		"CDCSTREAM_HANDSHAKE_TIMEOUT", handshake))
	capacity := d.cfg.hardening.transport.maxConnections
	baseRSS := rssBytes()
	conns := make([]net.Conn, 0, idle)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	dialStart := time.Now()
	for i := 0; i < idle; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "connections beyond the cap rejected", func() bool {
		return metricValue(t, d, "cdcstream_connections_rejected_total")+metricValue(t, d, "cdcstream_connections_accepted_total") >= float64(idle)
	})
	if open := metricValue(t, d, "cdcstream_connections_open"); open > float64(capacity) {
		t.Errorf("%v connections open, want at most --max-connections %d", open, capacity)
	}
	// While no held connection has reached its handshake timeout, every connection beyond
	// the cap is rejected; after that, freed slots admit later ones.
	wantRejected := float64(idle - capacity)
	if time.Since(dialStart) >= d.cfg.hardening.transport.handshakeTimeout {
		wantRejected = 1
	}
	if rejected := metricValue(t, d, "cdcstream_connections_rejected_total"); rejected < wantRejected {
		t.Errorf("%v connections rejected, want at least %v", rejected, wantRejected)
	}
	// Every idle connection is closed by the server: at once beyond the cap, after the
	// handshake timeout within it.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		// The server may send its SETTINGS first; then it must close the connection.
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("idle connection %d: still open after 60s", i)
			}
		}
	}
	served(t, addr)
	t.Logf("%d idle connections, --max-connections %d, --handshake-timeout %v: %v rejected at accept, at most %d held; all closed; a client was then served; +%.1f MiB RSS",
		idle, capacity, d.cfg.hardening.transport.handshakeTimeout, metricValue(t, d, "cdcstream_connections_rejected_total"), capacity, float64(int64(rssBytes())-int64(baseRSS))/(1<<20))
}

// Request metadata beyond --max-header-list-size (16 KiB) is refused; metadata within it is
// served.
func TestHeaderListSizeBounded(t *testing.T) {
	_, addr := startDaemon(t, env())
	cc := dialGRPC(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(size int) error {
		md := metadata.Pairs("x-padding", strings.Repeat("a", size))
		_, err := healthpb.NewHealthClient(cc).Check(metadata.NewOutgoingContext(ctx, md), &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		return err
	}
	if err := check(8 << 10); err != nil {
		t.Fatalf("8 KiB of metadata: %v", err)
	}
	// grpc-go's client honours the advertised limit and refuses to send.
	if err := check(20 << 10); err == nil {
		t.Fatal("20 KiB of metadata was accepted; --max-header-list-size is 16 KiB")
	}
	// A raw client that ignores it has its stream refused or its connection closed.
	h := dialH2(t, addr)
	h.headersOnly(t, "/grpc.health.v1.Health/Check", 1, hpack.HeaderField{Name: "x-padding", Value: strings.Repeat("a", 20<<10)})
	waitFor(t, "the oversized stream refused", func() bool {
		select {
		case <-h.done:
			return true
		default:
			return h.refused.Load() > 0 || h.status(strconv.Itoa(int(codes.Internal))) > 0
		}
	})
	if h.status(strconv.Itoa(int(codes.OK))) > 0 {
		t.Error("the stream with oversized metadata was served")
	}
	served(t, addr)
}
