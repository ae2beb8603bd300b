package neo4jsim

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Injectable failures. Tests, the demo and chaos runs use them to exercise a consumer's retry,
// reconnect and timeout paths through a real driver. There are two kinds:
//
//   - a FaultPlan, in force for the whole life of the Server (WithFaultPlan; cmd/neo4jsim's
//     --fault-* flags): drop every connection every DropEvery, fail a seeded fraction of the
//     statements, delay every response;
//   - one-off faults, applied from Go or the admin API (admin.go): FailNext, SetFailFraction,
//     SetDelay, RefuseConnections, DropConnections.
//
// Every fault is counted in Stats.

// DefaultFaultCode is the Neo4j status code of injected statement failures when none is
// given: the code a Neo4j server answers while a database is unavailable (starting, stopping,
// switching leader). Drivers retry it and drop their pooled connections to the server.
const DefaultFaultCode = "Neo.TransientError.General.DatabaseUnavailable"

// FaultPlan is a set of faults in force for the whole life of a Server. The zero value injects
// nothing.
type FaultPlan struct {
	// DropEvery closes every open client connection abruptly (no Bolt goodbye) once per
	// interval, as a server restart or a network cut would; 0 never drops.
	DropEvery time.Duration
	// FailFraction is the probability, in [0, 1], that a statement (a RUN) fails with FailCode
	// instead of running.
	FailFraction float64
	// FailCode is the Neo4j status code of those failures; empty means DefaultFaultCode. A
	// Neo.TransientError.* code makes the drivers retry the transaction.
	FailCode string
	// FailMessage is their message; empty means Neo4j's message for DatabaseUnavailable
	// ("Database 'neo4j' is unavailable.") or, for other codes, one naming the fault.
	FailMessage string
	// Delay delays the response to every statement, sending NOOP keep-alives meanwhile.
	Delay time.Duration
	// Seed seeds the FailFraction draws. The server draws one number per statement in the
	// order statements arrive, so with one seed the k-th statement the server runs fails or
	// succeeds the same way on every run.
	Seed int64
}

// faultCodeRE is the shape of a Neo4j status code: Neo.<classification>.<category>.<title>.
var faultCodeRE = regexp.MustCompile(`^Neo\.(ClientError|TransientError|DatabaseError)\.[A-Za-z]+\.[A-Za-z]+$`)

// ValidateFaultCode reports whether code has the shape of a Neo4j status code, such as
// Neo.TransientError.General.DatabaseUnavailable.
func ValidateFaultCode(code string) error {
	if !faultCodeRE.MatchString(code) {
		return fmt.Errorf("%q is not a Neo4j status code (Neo.TransientError|ClientError|DatabaseError.<Category>.<Title>)", code)
	}
	return nil
}

// FaultPlanError reports an invalid field of a FaultPlan.
type FaultPlanError struct {
	// Field is the name of the FaultPlan field, such as "FailFraction".
	Field string
	// Reason says what is wrong with its value, such as "must be between 0 and 1, not 2".
	Reason string
}

// Error implements error.
func (e *FaultPlanError) Error() string { return "fault plan: " + e.Field + " " + e.Reason }

// Validate reports the first out-of-range field of p as a *FaultPlanError.
func (p FaultPlan) Validate() error {
	switch {
	case p.DropEvery < 0 || (p.DropEvery > 0 && p.DropEvery < time.Millisecond):
		return &FaultPlanError{"DropEvery", fmt.Sprintf("must be 0 or at least 1ms, not %v", p.DropEvery)}
	case !(p.FailFraction >= 0 && p.FailFraction <= 1): // also rejects NaN
		return &FaultPlanError{"FailFraction", fmt.Sprintf("must be between 0 and 1, not %v", p.FailFraction)}
	case p.Delay < 0:
		return &FaultPlanError{"Delay", fmt.Sprintf("must not be negative, not %v", p.Delay)}
	}
	if p.FailCode != "" {
		if err := ValidateFaultCode(p.FailCode); err != nil {
			return &FaultPlanError{"FailCode", err.Error()}
		}
	}
	return nil
}

// WithFaultPlan puts p in force for the whole life of the server. NewServer fails when p is
// invalid (see FaultPlan.Validate).
func WithFaultPlan(p FaultPlan) ServerOption {
	return func(o *options) { o.plan = p }
}

// Stats counts a Server's traffic and the faults it injected since it started.
type Stats struct {
	// ConnectionsAccepted counts accepted TCP connections, refused ones included.
	ConnectionsAccepted int64 `json:"connectionsAccepted"`
	// ConnectionsOpen is the number of connections being served now.
	ConnectionsOpen int `json:"connectionsOpen"`
	// ConnectionsRefused counts connections closed at once by RefuseConnections.
	ConnectionsRefused int64 `json:"connectionsRefused"`
	// ConnectionsDropped counts connections cut by DropConnections or FaultPlan.DropEvery.
	ConnectionsDropped int64 `json:"connectionsDropped"`
	// Drops counts the DropConnections calls and DropEvery rounds.
	Drops int64 `json:"drops"`
	// Statements counts RUN requests that reached the statement stage, failed ones included.
	Statements int64 `json:"statements"`
	// FailedNext counts statements failed by FailNext.
	FailedNext int64 `json:"failedNext"`
	// FailedFraction counts statements failed by the fail fraction.
	FailedFraction int64 `json:"failedFraction"`
	// Delayed counts statements whose response was delayed.
	Delayed int64 `json:"delayed"`
}

// faults holds the injectable failures and counters of a Server.
type faults struct {
	// mu guards every field up to the counters.
	mu       sync.Mutex
	failLeft int    // statements still to fail (FailNext)
	failCode string // Neo4j status code of the FailNext FAILURE
	failMsg  string // its message
	fraction float64
	fracCode string
	fracMsg  string
	rng      *rand.Rand // seeded by FaultPlan.Seed; one draw per statement while fraction > 0
	delay    time.Duration
	refuse   bool

	// The counters of Stats, updated without mu.
	accepted, refused, dropped, drops atomic.Int64
	statements, failedNext            atomic.Int64
	failedFraction, delayed           atomic.Int64
}

// init applies a validated plan.
func (f *faults) init(p FaultPlan) {
	f.rng = rand.New(rand.NewPCG(uint64(p.Seed), 0x9E3779B97F4A7C15))
	f.fraction, f.fracCode, f.fracMsg = p.FailFraction, p.FailCode, p.FailMessage
	f.delay = p.Delay
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

// SetFailFraction makes each later statement fail with probability fraction (0 switches it
// off), with the given code and message (empty: as in FaultPlan). The draws continue the
// plan's seeded sequence.
func (s *Server) SetFailFraction(fraction float64, code, message string) error {
	p := FaultPlan{FailFraction: fraction, FailCode: code}
	if err := p.Validate(); err != nil {
		return err
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.fraction, s.faults.fracCode, s.faults.fracMsg = fraction, code, message
	return nil
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

// DropConnections closes every open client connection abruptly, without a Bolt goodbye, and
// returns how many it closed. The listener stays open, so the driver's next attempt
// reconnects.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.nc.Close()
	}
	s.faults.drops.Add(1)
	s.faults.dropped.Add(int64(len(conns)))
	return len(conns)
}

// dropLoop runs FaultPlan.DropEvery until the server closes.
func (s *Server) dropLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			n := s.DropConnections()
			s.opts.logger.Info("bolt connections dropped (fault plan)", "connections", n)
		case <-s.done:
			return
		}
	}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	open := len(s.conns)
	s.mu.Unlock()
	f := &s.faults
	return Stats{
		ConnectionsAccepted: f.accepted.Load(),
		ConnectionsOpen:     open,
		ConnectionsRefused:  f.refused.Load(),
		ConnectionsDropped:  f.dropped.Load(),
		Drops:               f.drops.Load(),
		Statements:          f.statements.Load(),
		FailedNext:          f.failedNext.Load(),
		FailedFraction:      f.failedFraction.Load(),
		Delayed:             f.delayed.Load(),
	}
}

// FaultState is the set of faults in force now, as the admin API reports it.
type FaultState struct {
	// PendingFailures is the number of statements FailNext will still fail.
	PendingFailures int `json:"pendingFailures"`
	// PendingCode is their status code.
	PendingCode string `json:"pendingCode,omitempty"`
	// FailFraction is the probability that a statement fails, and FailCode its code.
	FailFraction float64 `json:"failFraction"`
	// FailCode is the code of fraction failures (DefaultFaultCode when none was given).
	FailCode string `json:"failCode"`
	// Delay is the response delay, as a Go duration string ("0s" for none).
	Delay string `json:"delay"`
	// Refusing reports whether new connections are refused.
	Refusing bool `json:"refusing"`
	// DropEvery is the plan's drop interval ("0s" for none).
	DropEvery string `json:"dropEvery"`
}

// FaultState returns the faults in force now.
func (s *Server) FaultState() FaultState {
	f := &s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	st := FaultState{PendingFailures: f.failLeft, FailFraction: f.fraction, FailCode: f.fracCode,
		Delay: f.delay.String(), Refusing: f.refuse, DropEvery: s.opts.plan.DropEvery.String()}
	if f.failLeft > 0 {
		st.PendingCode = f.failCode
	}
	if st.FailCode == "" {
		st.FailCode = DefaultFaultCode
	}
	return st
}

// onStatement is called once per statement, before it runs, on the database named db. It
// counts the statement and returns the delay to wait out and the failure to send instead of
// running it (nil to run it). A pending FailNext failure comes first; the fraction draw is
// made for every statement while the fraction is on, so the seeded sequence of outcomes does
// not depend on FailNext.
func (f *faults) onStatement(db string) (time.Duration, *Error) {
	f.statements.Add(1)
	f.mu.Lock()
	delay := f.delay
	var fail *Error
	drawn := f.fraction > 0 && f.rng.Float64() < f.fraction
	switch {
	case f.failLeft > 0:
		f.failLeft--
		fail = &Error{Code: f.failCode, Message: f.failMsg}
		f.failedNext.Add(1)
	case drawn:
		fail = fractionError(f.fracCode, f.fracMsg, db)
		f.failedFraction.Add(1)
	}
	f.mu.Unlock()
	if delay > 0 {
		f.delayed.Add(1)
	}
	return delay, fail
}

// fractionError builds the FAILURE of a fraction fault.
func fractionError(code, msg, db string) *Error {
	if code == "" {
		code = DefaultFaultCode
	}
	if msg == "" {
		if code == DefaultFaultCode {
			msg = fmt.Sprintf("Database '%s' is unavailable.", db)
		} else {
			msg = "Injected by neo4jsim: " + code
		}
	}
	return &Error{Code: code, Message: msg}
}

// onAccept counts an accepted connection and reports whether it is to be refused.
func (f *faults) onAccept() (refuse bool) {
	f.accepted.Add(1)
	f.mu.Lock()
	refuse = f.refuse
	f.mu.Unlock()
	if refuse {
		f.refused.Add(1)
	}
	return refuse
}
