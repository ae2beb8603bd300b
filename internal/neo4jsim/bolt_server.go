package neo4jsim

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// The handlers of the Bolt 5 requests, one per message (the Bolt 5 messages and server state machine).

// mapField returns field i of m as a map; a missing or null field is an empty map.
func mapField(m message, i int) (map[string]any, bool) {
	if i >= len(m.fields) || m.fields[i] == nil {
		return map[string]any{}, true
	}
	v, ok := m.fields[i].(map[string]any)
	return v, ok
}

func (c *conn) hello(m message) {
	if !c.expectState(m, 1, stNegotiation) {
		return
	}
	extra, ok := mapField(m, 0)
	if !ok {
		c.protocolViolation("HELLO extra must be a map")
		return
	}
	if r, ok := extra["routing"].(map[string]any); ok {
		c.routing = r
	}
	if c.minor == 0 { // Bolt 5.0: the auth token is part of HELLO.
		if !c.authenticate(extra) {
			return
		}
	} else {
		c.state = stAuthentication
	}
	o := c.srv.opts
	hints := 0
	if o.recvTimeout > 0 {
		hints++
	}
	if o.telemetry {
		hints++
	}
	c.success(3, func(e *encoder) {
		e.str("server")
		e.str(o.agent)
		e.str("connection_id")
		e.str(c.id)
		e.str("hints")
		e.mapHeader(hints)
		if o.recvTimeout > 0 {
			e.str("connection.recv_timeout_seconds")
			e.integer(max(int64(o.recvTimeout/time.Second), 1))
		}
		if o.telemetry {
			e.str("telemetry.enabled")
			e.boolean(true)
		}
	})
}

// authenticate checks a basic auth token. On failure it sends Unauthorized, answers IGNORED to
// every request the client pipelined behind the HELLO or LOGON, and marks the connection for
// closing (see rejectPipelined).
func (c *conn) authenticate(token map[string]any) bool {
	scheme, _ := token["scheme"].(string)
	principal, _ := token["principal"].(string)
	credentials, _ := token["credentials"].(string)
	if scheme == "basic" {
		if u, ok := c.srv.dbms.Authenticate(principal, credentials); ok {
			c.user, c.authUser = u, u.Name
			c.state = stReady
			return true
		}
	}
	c.fail(errUnauthorized())
	c.state = stDefunct
	c.rejectPipelined()
	return false
}

// pipelinedReadTimeout bounds how long rejectPipelined waits for the rest of a request whose
// first bytes have arrived.
const pipelinedReadTimeout = time.Second

// rejectPipelined answers IGNORED to every request already sent behind a failed
// authentication, as Neo4j does before it closes the connection: a driver that pipelined
// LOGOFF, LOGON, RUN and PULL (session-level auth on a pooled connection) then sees the
// Unauthorized FAILURE followed by IGNORED for the rest, not a connection closed under
// outstanding requests. Requests count as pipelined when their first bytes are already in the
// input buffer; GOODBYE ends the connection without a reply.
func (c *conn) rejectPipelined() {
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	for c.r.Buffered() > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(pipelinedReadTimeout))
		raw, err := readMessage(c.r, c.in)
		c.in = raw
		if err != nil {
			return
		}
		c.messages++
		if m, err := decodeMessage(raw); err != nil || m.tag == msgGoodbye {
			return
		}
		c.ignored()
	}
}

func (c *conn) logon(m message) {
	if !c.expectState(m, 1, stAuthentication) {
		return
	}
	token, ok := mapField(m, 0)
	if !ok {
		c.protocolViolation("LOGON auth must be a map")
		return
	}
	if c.authenticate(token) {
		c.success(0, nil)
	}
}

func (c *conn) logoff(m message) {
	if !c.expectState(m, 0, stReady) {
		return
	}
	c.user, c.authUser = User{}, ""
	c.state = stAuthentication
	c.success(0, nil)
}

func (c *conn) reset(m message) {
	if !c.expectState(m, 0, stAuthentication, stReady, stStreaming, stTxReady, stTxStreaming, stFailed) {
		return
	}
	c.clearTx()
	if c.state != stAuthentication {
		c.state = stReady
	}
	c.success(0, nil)
}

func (c *conn) telemetry(m message) {
	if !c.expectState(m, 1, stReady, stTxReady) {
		return
	}
	c.success(0, nil)
}

// resolveDB returns the database named in extra["db"] (or the default one), or sends
// DatabaseNotFound.
func (c *conn) resolveDB(extra map[string]any) (*Database, bool) {
	name, _ := extra["db"].(string)
	if name == "" {
		name = c.srv.dbms.DefaultDatabase()
	}
	db := c.srv.dbms.Database(name)
	if db == nil {
		c.fail(errDatabaseNotFound(name))
		return nil, false
	}
	return db, true
}

// effectiveUser applies impersonation (extra["imp_user"]), which needs an admin.
func (c *conn) effectiveUser(extra map[string]any) (User, bool) {
	imp, _ := extra["imp_user"].(string)
	if imp == "" || imp == c.user.Name {
		return c.user, true
	}
	u, ok := c.srv.dbms.LookupUser(imp)
	if !ok || !c.user.Admin {
		c.fail(errImpersonation(imp))
		return User{}, false
	}
	return u, true
}

func (c *conn) route(m message) {
	if !c.expectState(m, 3, stReady) {
		return
	}
	routing, ok := mapField(m, 0)
	if !ok {
		c.protocolViolation("ROUTE routing context must be a map")
		return
	}
	extra := map[string]any{}
	switch x := m.fields[2].(type) {
	case map[string]any:
		extra = x
	case string: // Bolt 4.3 form: the database name
		extra["db"] = x
	}
	db, ok := c.resolveDB(extra)
	if !ok {
		return
	}
	addr := c.advertised(routing)
	ttl := int64(c.srv.opts.routingTTL / time.Second)
	c.success(1, func(e *encoder) {
		e.str("rt")
		e.mapHeader(3)
		e.str("ttl")
		e.integer(ttl)
		e.str("db")
		e.str(db.Name())
		e.str("servers")
		e.listHeader(3)
		for _, role := range [...]string{"WRITE", "READ", "ROUTE"} {
			e.mapHeader(2)
			e.str("addresses")
			e.strings([]string{addr})
			e.str("role")
			e.str(role)
		}
	})
}

// advertised returns the address for routing tables: the configured one, the listen address,
// or (when listening on an unspecified IP such as 0.0.0.0) the address the client dialled.
func (c *conn) advertised(routing map[string]any) string {
	if a := c.srv.opts.advertised; a != "" {
		return a
	}
	host, _, err := net.SplitHostPort(c.srv.addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
		if a, ok := routing["address"].(string); ok && a != "" {
			return a
		}
		if _, port, err := net.SplitHostPort(c.srv.addr); err == nil {
			return net.JoinHostPort("localhost", port)
		}
	}
	return c.srv.addr
}

func (c *conn) begin(m message) {
	if !c.expectState(m, 1, stReady) {
		return
	}
	extra, ok := mapField(m, 0)
	if !ok {
		c.protocolViolation("BEGIN extra must be a map")
		return
	}
	db, ok := c.resolveDB(extra)
	if !ok {
		return
	}
	user, ok := c.effectiveUser(extra)
	if !ok {
		return
	}
	c.clearTx()
	c.txDB, c.txUser, c.txMeta, c.txRead = db, user, txMetadata(extra), readMode(extra)
	c.state = stTxReady
	if _, named := extra["db"].(string); named {
		c.success(0, nil)
		return
	}
	c.success(1, func(e *encoder) { // Bolt 5.8: tell the client its home database
		e.str("db")
		e.str(db.Name())
	})
}

func (c *conn) runQuery(m message) {
	if !c.expectState(m, 3, stReady, stTxReady, stTxStreaming) {
		return
	}
	query, ok1 := m.fields[0].(string)
	params, ok2 := mapField(m, 1)
	extra, ok3 := mapField(m, 2)
	if !ok1 || !ok2 || !ok3 {
		c.protocolViolation("RUN needs a query string, a parameter map and an extra map")
		return
	}
	db, user := c.txDB, c.txUser
	if c.state == stReady {
		var ok bool
		if db, ok = c.resolveDB(extra); !ok {
			return
		}
		if user, ok = c.effectiveUser(extra); !ok {
			return
		}
	}
	d, injected := c.srv.faults.onStatement(db.Name())
	if d > 0 && !c.delay(d) {
		c.state = stDefunct
		return
	}
	if injected != nil {
		c.fail(injected)
		return
	}
	res, err := c.runStatement(query, params, extra, db, user)
	if err != nil {
		c.fail(err)
		return
	}
	tFirst := time.Since(res.start).Milliseconds()
	if c.state == stReady {
		c.auto = res
		c.state = stStreaming
		_, named := extra["db"].(string)
		n := 2
		if !named {
			n++
		}
		c.success(n, func(e *encoder) {
			e.str("fields")
			e.strings(res.fields)
			e.str("t_first")
			e.integer(tFirst)
			if !named { // Bolt 5.8: tell the client its home database
				e.str("db")
				e.str(res.db)
			}
		})
		return
	}
	res.qid = c.nextQID
	c.nextQID++
	c.lastQID = res.qid
	c.results[res.qid] = res
	c.state = stTxStreaming
	c.success(3, func(e *encoder) {
		e.str("fields")
		e.strings(res.fields)
		e.str("t_first")
		e.integer(tFirst)
		e.str("qid")
		e.integer(res.qid)
	})
}

// pull handles PULL and DISCARD: up to n rows (all for n = -1) of the result addressed by qid
// (the last one for -1 or no qid).
func (c *conn) pull(m message) {
	if !c.expectState(m, 1, stStreaming, stTxStreaming) {
		return
	}
	extra, ok := mapField(m, 0)
	if !ok {
		c.protocolViolation("PULL/DISCARD extra must be a map")
		return
	}
	n, qid := int64(-1), int64(-1)
	if v, ok := extra["n"].(int64); ok {
		n = v
	}
	if v, ok := extra["qid"].(int64); ok {
		qid = v
	}
	if n == 0 || n < -1 {
		c.fail(&Error{Code: "Neo.ClientError.Request.Invalid", GQLStatus: "22N02",
			Message: "Invalid fetch size " + strconv.FormatInt(n, 10) + ": expected a positive number or -1"})
		return
	}
	res := c.auto
	if c.state == stTxStreaming {
		if qid == -1 {
			qid = c.lastQID
		}
		res = c.results[qid]
	}
	if res == nil {
		c.fail(errProtocol(fmt.Sprintf("No open result with qid %d", qid)))
		return
	}
	count := res.remaining()
	if n > 0 && int64(count) > n {
		count = int(n)
	}
	if m.tag == msgDiscard {
		res.pos += count
	} else if !c.records(res, count) {
		return
	}
	if res.remaining() > 0 {
		c.success(1, func(e *encoder) {
			e.str("has_more")
			e.boolean(true)
		})
		return
	}
	c.finishResult(res)
}

// records streams count rows of res as RECORD messages.
func (c *conn) records(res *result, count int) bool {
	for i := 0; i < count; i++ {
		start := c.fw.begin(&c.enc)
		c.enc.structHeader(1, msgRecord)
		if err := res.encodeRow(&c.enc, res.pos); err != nil {
			c.fw.abort(&c.enc, start)
			c.fail(&Error{Code: "Neo.DatabaseError.General.UnknownError", GQLStatus: "50N42",
				Message: fmt.Sprintf("cannot encode record: %v", err)})
			return false
		}
		c.fw.finish(&c.enc, start)
		res.pos++
		if len(c.fw.out) >= flushThreshold {
			if err := c.flush(); err != nil {
				c.state = stDefunct
				return false
			}
		}
	}
	return true
}

// finishResult sends the final summary of a fully consumed result and leaves the streaming
// state when no result is open any more.
func (c *conn) finishResult(res *result) {
	tLast := time.Since(res.start).Milliseconds()
	auto := c.state == stStreaming
	var bookmark string
	if auto {
		c.auto = nil
		c.state = stReady
		bookmark = c.bookmark(res.db)
	} else {
		delete(c.results, res.qid)
		if len(c.results) == 0 {
			c.state = stTxReady
		}
	}
	fields := 3
	if auto {
		fields++
	}
	extra, qtype := res.summary.fields(c.minor)
	c.success(fields+extra, func(e *encoder) {
		e.str("type")
		e.str(qtype)
		e.str("t_last")
		e.integer(tLast)
		e.str("db")
		e.str(res.db)
		if auto {
			e.str("bookmark")
			e.str(bookmark)
		}
		res.summary.encode(e, c.minor)
	})
}

// bookmark returns the bookmark for the last committed transaction of the named database.
// Bookmarks are opaque to clients; the simulator accepts any bookmark it receives.
func (c *conn) bookmark(dbName string) string {
	var tx int64
	if db := c.srv.dbms.Database(dbName); db != nil {
		tx = db.LastTxID()
	}
	return fmt.Sprintf("FB:neo4jsim:%s:%d", dbName, tx)
}

// endTx handles COMMIT and ROLLBACK. Open results are discarded (the driver never leaves any).
func (c *conn) endTx(m message) {
	if !c.expectState(m, 0, stTxReady, stTxStreaming) {
		return
	}
	db := c.txDB
	if m.tag == msgCommit {
		if err := c.commitTx(); err != nil {
			c.fail(err)
			return
		}
	}
	c.clearTx()
	c.state = stReady
	if m.tag == msgRollback {
		c.success(0, nil)
		return
	}
	bm := c.bookmark(db.Name())
	c.success(1, func(e *encoder) {
		e.str("bookmark")
		e.str(bm)
	})
}
