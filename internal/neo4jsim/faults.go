package neo4jsim

import (
	"sync"
	"time"
)

// faults holds the injectable failures of a Server. Tests and the demo use them to exercise a
// consumer's retry, reconnect and timeout paths through the real driver.
type faults struct {
	// mu guards every field below.
	mu       sync.Mutex
	failLeft int    // statements still to fail
	failCode string // Neo4j status code of the injected FAILURE
	failMsg  string // its message
	delay    time.Duration
	refuse   bool
}

// FailNext makes the next n statements (RUN messages, on any connection) fail with a FAILURE
// carrying the given Neo4j status code and message; n <= 0 cancels pending failures. A
// Neo.TransientError.* code makes the driver retry the transaction (except
// Transaction.Terminated and LockClientStopped, which the driver rewrites to client errors);
// Neo.TransientError.General.DatabaseUnavailable also makes it drop its pooled connections and
// re-route.
func (s *Server) FailNext(n int, code, message string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.failLeft = max(n, 0)
	s.faults.failCode = code
	s.faults.failMsg = message
}

// SetDelay delays the response to every statement by d (0 switches it off). While a
// response is delayed the connection sends NOOP chunks every keep-alive interval, as a busy
// Neo4j server does, so the driver's read timeout does not fire.
func (s *Server) SetDelay(d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.delay = max(d, 0)
}

// RefuseConnections makes the server close every new connection right after accepting it
// (refuse = true), as a server that is down would, until called with false. Open connections
// are not affected; combine with DropConnections to take the server "down".
func (s *Server) RefuseConnections(refuse bool) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.refuse = refuse
}

// DropConnections closes every open client connection abruptly, without a Bolt goodbye. The
// listener stays open, so the driver's next attempt reconnects.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.nc.Close()
	}
}

// takeFailure consumes one pending injected failure, if any.
func (f *faults) takeFailure() (*Error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLeft == 0 {
		return nil, false
	}
	f.failLeft--
	return &Error{Code: f.failCode, Message: f.failMsg}, true
}

func (f *faults) currentDelay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delay
}

func (f *faults) refusing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refuse
}
