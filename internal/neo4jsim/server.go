package neo4jsim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a Bolt 5.8 server in front of a DBMS. The real Neo4j driver connects to it with
// bolt:// or neo4j:// (see BoltURI and RoutingURI). Create it with NewServer; stop it with
// Close.
type Server struct {
	dbms *DBMS
	ln   net.Listener
	addr string
	opts options

	faults faults

	// done is closed by Close; connections waiting out an injected delay watch it.
	done chan struct{}
	// wg counts the accept loop and the connection goroutines.
	wg sync.WaitGroup
	// connSeq numbers connections for their connection_id.
	connSeq atomic.Int64

	// mu guards conns and closed.
	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// options are the Server settings that ServerOption values change.
type options struct {
	logger       *slog.Logger
	agent        string
	manifest     bool
	telemetry    bool
	recvTimeout  time.Duration
	keepAlive    time.Duration
	routingTTL   time.Duration
	advertised   string
	handshakeTTL time.Duration
	plan         FaultPlan
}

// ServerOption configures a Server.
type ServerOption func(*options)

// WithLogger logs one line per connection (when it ends) and one per error sent to a client.
// The default discards the log.
func WithLogger(l *slog.Logger) ServerOption {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithServerAgent sets the server agent sent in the HELLO reply; default "Neo4j/5.26.0".
func WithServerAgent(agent string) ServerOption {
	return func(o *options) { o.agent = agent }
}

// WithManifestHandshake chooses the handshake reply to a client that offers manifest v1:
// the manifest (true, the default) or the legacy 4-byte version reply (false).
func WithManifestHandshake(on bool) ServerOption {
	return func(o *options) { o.manifest = on }
}

// WithTelemetry sets the HELLO hint telemetry.enabled, which makes the driver send TELEMETRY
// messages; default false, as on a self-managed Neo4j.
func WithTelemetry(on bool) ServerOption {
	return func(o *options) { o.telemetry = on }
}

// WithRecvTimeoutHint sets the HELLO hint connection.recv_timeout_seconds (whole seconds, at
// least 1); 0, the default, omits it. With the hint the Go driver races every socket read
// against a timer in a new goroutine, which costs a large share of its read throughput.
func WithRecvTimeoutHint(d time.Duration) ServerOption {
	return func(o *options) { o.recvTimeout = max(d, 0) }
}

// WithKeepAliveInterval sets how often a delayed response sends a NOOP chunk; default 10 s.
func WithKeepAliveInterval(d time.Duration) ServerOption {
	return func(o *options) {
		if d > 0 {
			o.keepAlive = d
		}
	}
}

// WithRoutingTTL sets the ttl of the routing table returned by ROUTE; default 300 s.
func WithRoutingTTL(d time.Duration) ServerOption {
	return func(o *options) { o.routingTTL = max(d, 0) }
}

// WithAdvertisedAddress sets the host:port put in routing tables. By default it is the
// listen address, or the address the client dialled when listening on an unspecified IP.
func WithAdvertisedAddress(addr string) ServerOption {
	return func(o *options) { o.advertised = addr }
}

// NewServer binds listen (for example "127.0.0.1:0") and serves Bolt on it in background
// goroutines until Close.
func NewServer(dbms *DBMS, listen string, opts ...ServerOption) (*Server, error) {
	if dbms == nil {
		return nil, errors.New("neo4jsim: NewServer needs a DBMS")
	}
	o := options{
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		agent:        "Neo4j/5.26.0",
		manifest:     true,
		keepAlive:    10 * time.Second,
		routingTTL:   300 * time.Second,
		handshakeTTL: 10 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.plan.Validate(); err != nil {
		return nil, fmt.Errorf("neo4jsim: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	s := &Server{
		dbms:  dbms,
		ln:    ln,
		addr:  ln.Addr().String(),
		opts:  o,
		done:  make(chan struct{}),
		conns: make(map[*conn]struct{}),
	}
	s.faults.init(o.plan)
	s.wg.Add(1)
	go s.acceptLoop()
	if o.plan.DropEvery > 0 {
		s.wg.Add(1)
		go s.dropLoop(o.plan.DropEvery)
	}
	return s, nil
}

// Addr returns the address the server listens on, such as "127.0.0.1:7687".
func (s *Server) Addr() string { return s.addr }

// BoltURI returns the direct URI, "bolt://" + Addr().
func (s *Server) BoltURI() string { return "bolt://" + s.addr }

// RoutingURI returns the routing URI, "neo4j://" + Addr().
func (s *Server) RoutingURI() string { return "neo4j://" + s.addr }

// DBMS returns the DBMS the server serves.
func (s *Server) DBMS() *DBMS { return s.dbms }

// Close stops accepting, closes every connection and waits for all goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	err := s.ln.Close()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case <-s.done:
			default:
				s.opts.logger.Error("bolt accept failed", "err", err)
			}
			return
		}
		if s.faults.onAccept() {
			_ = nc.Close()
			s.opts.logger.Info("bolt connection refused (fault injection)", "remote", nc.RemoteAddr().String())
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.run()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// wait blocks for d or until the server closes; it reports false when the server closed.
func (s *Server) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}
