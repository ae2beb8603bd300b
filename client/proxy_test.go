package client

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/cdcstream/cdcstream/internal/testkit"
)

// cutProxy forwards TCP connections to a backend and can cut them all at once, the way a
// reset connection or a crashed load balancer would.
type cutProxy struct {
	lis     net.Listener
	backend string
	// mu guards conns.
	mu    sync.Mutex
	conns []net.Conn
	// wg counts the accept loop and the copying goroutines; Cleanup waits for it.
	wg sync.WaitGroup
}

// startCutProxy listens on 127.0.0.1:0 and forwards to backend until the test ends.
func startCutProxy(t *testing.T, backend string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis, backend: backend}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		lis.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// accept forwards every accepted connection.
func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

// pipe copies from src to dst until either side fails, then closes both.
func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src) // ends with an error when the connection is cut
	dst.Close()
	src.Close()
}

// cut closes every forwarded connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST instead of FIN
		}
		c.Close()
	}
	p.conns = nil
}

func TestResumeAfterTheConnectionIsCut(t *testing.T) {
	f, direct := startFake(t, sendThenHang(change(1, 0), change(1, 1)), sendThenHang(change(2, 0)))
	p := startCutProxy(t, direct.Target())
	conn := testkit.Dial(t, p.lis.Addr().String())
	sub := newTestClient(conn, newFakeClock()).Subscribe(testCtx(t), fromReq())
	defer sub.Close()
	first := receiveN(t, sub, 2)
	p.cut()
	rest := receiveN(t, sub, 1)
	if got := txIDs(append(first, rest...)); !slices.Equal(got, []int64{1, 1, 2}) {
		t.Fatalf("tx ids %v", got)
	}
	if want := []string{"c-0-0", "c-1-1"}; !slices.Equal(fromCursors(f.subscribeRequests()), want) {
		t.Fatalf("subscribed from %v, want %v", fromCursors(f.subscribeRequests()), want)
	}
}
