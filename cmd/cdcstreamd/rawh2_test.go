package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Helpers of the hostile-load tests: an in-process daemon (so that its goroutines and heap
// can be read) and a raw HTTP/2 client that sends what no gRPC library would.

// startDaemon builds and runs cdcstreamd in this process with --demo (the embedded
// simulator, 100 transactions of history, no workload) plus args, on 127.0.0.1 port 0. It
// stops when the test ends.
func startDaemon(t testing.TB, getenv func(string) string, args ...string) (*daemon, string) {
	t.Helper()
	return startDaemonWith(t, getenv, nil, args...)
}

// startDaemonWith is startDaemon with beforeRun, when non-nil, called between build and run
// (to register more services).
func startDaemonWith(t testing.TB, getenv func(string) string, beforeRun func(*daemon), args ...string) (*daemon, string) {
	t.Helper()
	return startDaemonLogged(t, getenv, io.Discard, beforeRun, args...)
}

// startDaemonLogged is startDaemonWith logging (text) to logs, which must be safe for
// concurrent writes.
func startDaemonLogged(t testing.TB, getenv func(string) string, logs io.Writer, beforeRun func(*daemon), args ...string) (*daemon, string) {
	t.Helper()
	cfg, err := parseConfig(append([]string{"--demo", "--demo-rate", "0", "--listen", "127.0.0.1:0"}, args...), getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := build(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if beforeRun != nil {
		beforeRun(d)
	}
	ready := make(chan string, 1)
	ran := make(chan error, 1) // d.run's result
	go func() { ran <- d.run(ctx, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-ran:
		cancel()
		d.close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
		d.close()
	})
	return d, addr
}

// dialGRPC is a legitimate client of addr.
func dialGRPC(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// metricValue sums a counter or gauge of the daemon's transport metrics by name.
func metricValue(t *testing.T, d *daemon, name string) float64 {
	t.Helper()
	mfs, err := d.hd.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// rawH2 is one HTTP/2 connection driven frame by frame.
type rawH2 struct {
	conn net.Conn
	// wmu serialises writes of the framer (the reader goroutine acknowledges SETTINGS).
	wmu  sync.Mutex
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	next uint32 // next client stream id

	// Counted by the reader goroutine.
	refused atomic.Int64 // RST_STREAM frames received
	// statuses counts trailers by grpc-status value.
	smu      sync.Mutex
	statuses map[string]int
	// pings receives the payload of every PING acknowledgement.
	pings chan [8]byte
	// done is closed when the reader goroutine ends (the connection failed or was closed).
	done chan struct{}
}

// dialH2 opens a raw HTTP/2 connection (prior knowledge, no TLS) to addr and sends the
// client preface and SETTINGS. The reader goroutine ends when the test closes the connection.
func dialH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &rawH2{conn: c, next: 1, statuses: map[string]int{}, pings: make(chan [8]byte, 16), done: make(chan struct{})}
	h.enc = hpack.NewEncoder(&h.hbuf)
	h.fr = http2.NewFramer(c, c)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go h.read()
	t.Cleanup(func() { c.Close(); <-h.done })
	return h
}

// read consumes every frame the server sends, acknowledging SETTINGS and counting resets,
// trailers and PING acknowledgements.
func (h *rawH2) read() {
	defer close(h.done)
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.wmu.Lock()
				h.fr.WriteSettingsAck()
				h.wmu.Unlock()
			}
		case *http2.RSTStreamFrame:
			h.refused.Add(1)
		case *http2.MetaHeadersFrame:
			if s := f.PseudoValue("status"); s == "" || f.StreamEnded() {
				for _, hf := range f.RegularFields() {
					if hf.Name == "grpc-status" {
						h.smu.Lock()
						h.statuses[hf.Value]++
						h.smu.Unlock()
					}
				}
			}
		case *http2.PingFrame:
			if f.IsAck() {
				h.pings <- f.Data
			}
		}
	}
}

// headersOnly opens n streams on path with HEADERS only (plus extra header fields, split
// into CONTINUATION frames as needed): no DATA, no END_STREAM.
func (h *rawH2) headersOnly(t *testing.T, path string, n int, extra ...hpack.HeaderField) {
	t.Helper()
	h.wmu.Lock()
	defer h.wmu.Unlock()
	const maxFrame = 16 << 10 // HTTP/2's initial SETTINGS_MAX_FRAME_SIZE
	for i := 0; i < n; i++ {
		h.hbuf.Reset()
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", path},
			{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
			h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		for _, f := range extra {
			h.enc.WriteField(f)
		}
		block := h.hbuf.Bytes()
		first := block[:min(len(block), maxFrame)]
		block = block[len(first):]
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: h.next, BlockFragment: first, EndHeaders: len(block) == 0}); err != nil {
			t.Fatalf("stream %d: %v", h.next, err)
		}
		for len(block) > 0 {
			part := block[:min(len(block), maxFrame)]
			block = block[len(part):]
			if err := h.fr.WriteContinuation(h.next, len(block) == 0, part); err != nil {
				t.Fatalf("stream %d: %v", h.next, err)
			}
		}
		h.next += 2
	}
}

// sync sends a PING and waits for its acknowledgement: the server has then read every frame
// sent before it (it reads a connection's frames in order).
func (h *rawH2) sync(t *testing.T) {
	t.Helper()
	var data [8]byte
	copy(data[:], strconv.Itoa(int(h.next)))
	h.wmu.Lock()
	err := h.fr.WritePing(false, data)
	h.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case got := <-h.pings:
			if got == data {
				return
			}
		case <-h.done:
			t.Fatal("connection closed before the PING was acknowledged")
		case <-timeout:
			t.Fatal("PING never acknowledged")
		}
	}
}

// status is how many streams ended with grpc-status code.
func (h *rawH2) status(code string) int {
	h.smu.Lock()
	defer h.smu.Unlock()
	return h.statuses[code]
}
