package neo4jsim

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"
)

// Bolt message tags, as the Bolt 5 protocol numbers them.
const (
	msgHello     = 0x01
	msgGoodbye   = 0x02
	msgReset     = 0x0F
	msgRun       = 0x10
	msgBegin     = 0x11
	msgCommit    = 0x12
	msgRollback  = 0x13
	msgDiscard   = 0x2F
	msgPull      = 0x3F
	msgTelemetry = 0x54
	msgRoute     = 0x66
	msgLogon     = 0x6A
	msgLogoff    = 0x6B
	msgSuccess   = 0x70
	msgRecord    = 0x71
	msgIgnored   = 0x7E
	msgFailure   = 0x7F
)

// connState is the Bolt server state of one connection (the Bolt 5 server state machine).
type connState int

const (
	stNegotiation connState = iota
	stAuthentication
	stReady
	stStreaming
	stTxReady
	stTxStreaming
	stFailed
	stDefunct
)

var stateNames = [...]string{"NEGOTIATION", "AUTHENTICATION", "READY", "STREAMING", "TX_READY",
	"TX_STREAMING", "FAILED", "DEFUNCT"}

func (s connState) String() string { return stateNames[s] }

var messageNames = map[byte]string{msgHello: "HELLO", msgGoodbye: "GOODBYE", msgReset: "RESET",
	msgRun: "RUN", msgBegin: "BEGIN", msgCommit: "COMMIT", msgRollback: "ROLLBACK", msgDiscard: "DISCARD",
	msgPull: "PULL", msgTelemetry: "TELEMETRY", msgRoute: "ROUTE", msgLogon: "LOGON", msgLogoff: "LOGOFF"}

// flushThreshold is the amount of pending output after which a connection writes it out even
// in the middle of a PULL, bounding per-connection memory.
const flushThreshold = 64 << 10

// conn is one client connection. It is served by exactly one goroutine (run), which reads,
// executes and answers messages strictly in order, so it needs no locking.
type conn struct {
	srv *Server
	nc  net.Conn
	r   *bufio.Reader
	fw  frameWriter
	enc encoder
	in  []byte // reused de-chunking buffer

	id       string
	minor    int
	state    connState
	user     User
	authUser string
	routing  map[string]any // HELLO routing context; nil for bolt://
	messages int

	// Explicit transaction.
	txDB    *Database
	txUser  User
	txMeta  map[string]any    // BEGIN tx_metadata
	txRead  bool              // BEGIN mode "r"
	wtx     *Tx               // the transaction's writes, holding txDB's write lock; nil until its first write
	results map[int64]*result // open results of the transaction by qid
	lastQID int64
	nextQID int64
	// auto is the open auto-commit result (state STREAMING).
	auto *result
	// plans caches compiled statements by text (bolt_run.go).
	plans map[string]*plan
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:     s,
		nc:      nc,
		r:       bufio.NewReaderSize(nc, 32<<10),
		id:      fmt.Sprintf("bolt-%d", s.connSeq.Add(1)),
		results: make(map[int64]*result),
		plans:   make(map[string]*plan),
	}
}

// run serves the connection until it ends and logs one line about it.
func (c *conn) run() {
	start := time.Now()
	err := c.serve()
	c.clearTx() // roll back an open transaction, releasing its write lock
	_ = c.nc.Close()
	attrs := []any{"conn", c.id, "remote", c.nc.RemoteAddr().String(), "user", c.authUser,
		"bolt", fmt.Sprintf("5.%d", c.minor), "messages", c.messages, "duration", time.Since(start).Round(time.Millisecond)}
	if err != nil && !isClosedErr(err) {
		c.srv.opts.logger.Warn("bolt connection ended", append(attrs, "err", err)...)
		return
	}
	c.srv.opts.logger.Info("bolt connection ended", attrs...)
}

func (c *conn) serve() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.handshakeTTL))
	minor, _, err := handshake(c.r, c.nc, c.srv.opts.manifest)
	if err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.minor = minor
	for {
		if c.r.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
		raw, err := readMessage(c.r, c.in)
		c.in = raw
		if err != nil {
			return err
		}
		c.messages++
		m, err := decodeMessage(raw)
		if err != nil {
			c.protocolViolation(fmt.Sprintf("Invalid message: %v", err))
			return c.flushErr(err)
		}
		if m.tag == msgGoodbye {
			return c.flush()
		}
		if c.state == stFailed && m.tag != msgReset {
			c.ignored()
		} else {
			c.dispatch(m)
		}
		if c.state == stDefunct {
			return c.flushErr(errors.New("connection defunct"))
		}
		if len(c.fw.out) >= flushThreshold {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

func (c *conn) flush() error { return c.fw.flush(c.nc) }

// flushErr flushes and returns cause, or the flush error.
func (c *conn) flushErr(cause error) error {
	if err := c.flush(); err != nil {
		return err
	}
	return cause
}

// dispatch handles one message in the current (not FAILED) state.
func (c *conn) dispatch(m message) {
	switch m.tag {
	case msgHello:
		c.hello(m)
	case msgLogon:
		c.logon(m)
	case msgLogoff:
		c.logoff(m)
	case msgReset:
		c.reset(m)
	case msgTelemetry:
		c.telemetry(m)
	case msgRoute:
		c.route(m)
	case msgBegin:
		c.begin(m)
	case msgRun:
		c.runQuery(m)
	case msgPull, msgDiscard:
		c.pull(m)
	case msgCommit, msgRollback:
		c.endTx(m)
	default:
		c.protocolViolation(fmt.Sprintf("Unknown message tag 0x%02X", m.tag))
	}
}

// expectState checks that m may be handled now; otherwise the connection becomes defunct.
func (c *conn) expectState(m message, fields int, states ...connState) bool {
	ok := false
	for _, s := range states {
		ok = ok || c.state == s
	}
	if !ok {
		c.protocolViolation(fmt.Sprintf("Message '%s' cannot be handled by a session in the %s state.", messageNames[m.tag], c.state))
		return false
	}
	if len(m.fields) != fields {
		c.protocolViolation(fmt.Sprintf("Message '%s' has %d fields, expected %d", messageNames[m.tag], len(m.fields), fields))
		return false
	}
	return true
}

// protocolViolation answers FAILURE Neo.ClientError.Request.Invalid and marks the connection
// for closing.
func (c *conn) protocolViolation(msg string) {
	c.failure(errProtocol(msg))
	c.state = stDefunct
}

// success writes SUCCESS with a metadata map built by fill (nil for {}).
func (c *conn) success(n int, fill func(e *encoder)) {
	start := c.fw.begin(&c.enc)
	c.enc.structHeader(1, msgSuccess)
	c.enc.mapHeader(n)
	if fill != nil {
		fill(&c.enc)
	}
	c.fw.finish(&c.enc, start)
}

func (c *conn) ignored() {
	start := c.fw.begin(&c.enc)
	c.enc.structHeader(0, msgIgnored)
	c.fw.finish(&c.enc, start)
}

// fail sends FAILURE for err and enters FAILED (DEFUNCT before authentication). Any
// transaction is rolled back.
func (c *conn) fail(err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: "Neo.DatabaseError.General.UnknownError", GQLStatus: "50N42", Message: err.Error()}
	}
	c.failure(e)
	c.clearTx()
	if c.state == stNegotiation || c.state == stAuthentication {
		c.state = stDefunct
	} else {
		c.state = stFailed
	}
}

// failure writes a Bolt 5.7+ FAILURE: neo4j_code (and the legacy code key), message,
// gql_status, description and diagnostic_record with _classification.
func (c *conn) failure(e *Error) {
	c.srv.opts.logger.Warn("bolt failure", "conn", c.id, "code", e.Code, "gql_status", gqlStatusOf(e), "message", e.Message)
	start := c.fw.begin(&c.enc)
	en := &c.enc
	en.structHeader(1, msgFailure)
	en.mapHeader(6)
	en.str("neo4j_code")
	en.str(e.Code)
	en.str("code")
	en.str(e.Code)
	en.str("message")
	en.str(e.Message)
	en.str("gql_status")
	en.str(gqlStatusOf(e))
	en.str("description")
	en.str(gqlDescription(e))
	en.str("diagnostic_record")
	en.mapHeader(4)
	en.str("OPERATION")
	en.str("")
	en.str("OPERATION_CODE")
	en.str("0")
	en.str("CURRENT_SCHEMA")
	en.str("/")
	en.str("_classification")
	en.str(classification(e.Code))
	c.fw.finish(en, start)
}

// clearTx forgets the transaction, rolling back its writes, and every open result.
func (c *conn) clearTx() {
	if c.wtx != nil {
		c.wtx.release()
		c.wtx = nil
	}
	c.txDB, c.txMeta, c.txRead = nil, nil, false
	c.auto = nil
	clear(c.results)
	c.lastQID, c.nextQID = -1, 0
}

// delay waits out an injected response delay d, sending NOOP keep-alives meanwhile. It
// reports false when the server is closing.
func (c *conn) delay(d time.Duration) bool {
	if d > 0 && c.flush() != nil {
		return false
	}
	for d > 0 {
		step := min(d, c.srv.opts.keepAlive)
		if !c.srv.wait(step) {
			return false
		}
		d -= step
		c.fw.noop()
		if err := c.flush(); err != nil {
			return false
		}
	}
	return true
}
