// Package neo4jsim simulates a Neo4j Enterprise server with Change Data Capture, at the
// protocol level, for tests, benchmarks and the demo mode of cdcstreamd. The real
// neo4j-go-driver (and any other Bolt 5 driver) connects to it over TCP with bolt:// or
// neo4j://, logs in with basic auth and runs the CDC procedures against an in-memory property
// graph whose commits build a real CDC log. The package imports only the standard library and
// shares no code with the consumer it is used to test (docs/architecture.md section 7). Its
// specification is Neo4j's documented behaviour (the Bolt 5 protocol, PackStream, and the CDC
// procedures, record schema, selectors and errors summarised in docs/architecture.md section
// 3) and what Neo4j's drivers and examples send; where those are uncertain it follows a
// current Neo4j 2025 server, and the choices are listed at the end of this comment.
//
// # Contract
//
//	dbms := neo4jsim.NewDBMS(neo4jsim.Config{Databases: []string{"neo4j"}, CaptureMode: "FULL"})
//	srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0", neo4jsim.WithLogger(logger))
//	defer srv.Close()
//	driver, err := neo4j.NewDriverWithContext(srv.RoutingURI(), neo4j.BasicAuth("neo4j", "password", ""))
//
// A DBMS holds users and databases; every Database is safe for concurrent use (one writer at a
// time, any number of readers). Database.Write commits a transaction (Tx) of node and
// relationship changes; NewWorkload generates a deterministic stream of such transactions.
// Database.Query, Current and Earliest are the three CDC procedures as Go calls; the Bolt
// server exposes them and a Cypher subset that reads and writes the same graph, so what a
// test writes with Write it reads back through the driver, and what a client writes with
// Cypher lands in the same CDC log as a Write would.
// Server.Close closes the listener and every connection and waits for all goroutines.
//
// # Bolt server (server.go, bolt_conn.go, bolt_server.go, wire.go, packstream*.go, errors.go)
//
//   - Handshake: the legacy reply (00 00 minor 5) and manifest v1 (offer 5.8 down to 5.0, no
//     capabilities), the default when the client offers it; which Neo4j releases answer with
//     the manifest is not established, and the driver accepts both. Bolt 5.0 to 5.8 are
//     accepted, never 5.5; 5.0 authenticates in HELLO, 5.1+ with LOGON.
//   - Framing: messages of any chunk layout are joined; NOOP chunks are skipped on input, and
//     sent every keep-alive interval while a response is delayed. Replies to pipelined
//     requests are buffered and written when the input buffer is drained, or every 64 KiB.
//   - PackStream: every marker in every size, int8 to int64 (always written in the smallest
//     form), Float, Bytes, String, List, Map, and the Bolt 5 structures Date, Time, LocalTime,
//     LocalDateTime, DateTime (0x49) and DateTimeZoneId (0x69), Duration, Point2D and Point3D,
//     both directions. The legacy 0x46/0x66 DateTime forms are never written and rejected on
//     input, as the Go driver does on Bolt 5. The decoder bounds lengths by the remaining input
//     and nesting to 128, so no input makes it panic or over-allocate (FuzzPackStreamDecode).
//   - One goroutine per connection runs the Bolt state machine (NEGOTIATION, AUTHENTICATION,
//     READY, STREAMING, TX_READY, TX_STREAMING, FAILED, DEFUNCT): HELLO, LOGON, LOGOFF,
//     TELEMETRY, ROUTE, BEGIN, RUN, PULL and DISCARD (n, qid, has_more paging; several open
//     results per explicit transaction, addressed by qid, -1 or absent meaning the last),
//     COMMIT, ROLLBACK, RESET and GOODBYE. After a FAILURE every message but RESET is answered
//     IGNORED. A message in the wrong state or an undecodable message gets FAILURE
//     Neo.ClientError.Request.Invalid and the connection is closed.
//   - FAILURE carries neo4j_code and the legacy code key (same value), message, gql_status,
//     description and diagnostic_record{OPERATION, OPERATION_CODE, CURRENT_SCHEMA,
//     _classification}, the Bolt 5.7+ form; the classification follows the code's class.
//   - ROUTE answers one address for each of WRITE, READ and ROUTE, ttl 300 s, and the resolved
//     database name. The address is the listen address (or, listening on 0.0.0.0/::, the one
//     the client dialled), so neo4j:// works on a random port.
//   - Bookmarks are "FB:neo4jsim:<db>:<last txId>", returned by COMMIT and by the last PULL of
//     an auto-commit query. Incoming bookmarks are accepted and ignored: the simulator is a
//     single instance, so every bookmark is already satisfied.
//   - Errors (errors.go): wrong credentials give Neo.ClientError.Security.Unauthorized (42NFF),
//     every request pipelined behind the LOGON (or Bolt 5.0 HELLO) is answered IGNORED, then
//     the connection closes; an unknown database gives Neo.ClientError.Database.DatabaseNotFound
//     (22N51) on ROUTE, BEGIN or auto-commit RUN; an unrecognised statement gives
//     Neo.ClientError.Statement.SyntaxError (42001); errors of the CDC layer keep their codes.
//
// # Cypher (lexer.go, cypher_*.go, statements.go, bolt_run.go, result.go)
//
// Every statement is tokenized (lexer.go), parsed to a syntax tree (cypher_ast.go,
// cypher_parse*.go), checked (cypher_check.go: undefined variables are 42N62 whatever the
// data) and compiled once per connection. A statement that is only a CDC procedure call
// (optionally YIELD, RETURN of yielded variables, LIMIT) takes the fast path
// (statements.go, result.go): rows are encoded straight from the log's immutable records,
// page by page as PULL asks. Everything else runs in the general executor (cypher_exec*.go,
// cypher_match.go, cypher_expr.go, cypher_aggregate.go, cypher_write.go) over materialised
// rows. Keywords, procedure names and YIELD column names are case-insensitive; variables,
// labels, types and keys are case-sensitive; whitespace and comments are free. The subset:
//
//	Construct                     Supported form
//	----------------------------  ---------------------------------------------------------------
//	Prefixes                      CYPHER 5 | CYPHER 25 (no options); EXPLAIN (no rows; "plan" in the summary)
//	CDC procedures                CALL db.cdc.current[()] | db.cdc.earliest[()] | db.cdc.query[(from [, selectors])]
//	                              bare form: arguments from the parameters $from and $selectors
//	Deprecated procedures         cdc.current(), cdc.earliest(), cdc.query(...): same results plus a
//	                              FeatureDeprecationWarning (Bolt 5.0-5.5 "notifications", 5.6+ "statuses", 01N01)
//	Other procedures              dbms.components()
//	CALL                          [OPTIONAL] CALL proc(args) [YIELD * | YIELD col [AS v], ... [WHERE pred]], chained
//	MATCH                         [OPTIONAL] MATCH pattern, ... [WHERE pred]
//	Patterns                      (v:L1:L2 {k: expr} | $map), -[v:T1|T2 {..}]->, <-[..]-, -[..]-, -->, <--, --, chains
//	WITH / RETURN                 [DISTINCT] * | expr [AS alias], ... [ORDER BY expr [ASC|DESC], ...] [SKIP n] [LIMIT n];
//	                              WITH ... WHERE pred
//	UNWIND                        UNWIND expr AS v
//	Aggregation                   count(*), count([DISTINCT] e), collect, sum, min, max, avg as whole WITH/RETURN items;
//	                              the other items are the grouping keys
//	CREATE                        nodes, relationships (one type, directed) and paths, reusing bound nodes
//	MERGE                         MERGE pattern [ON CREATE SET ...] [ON MATCH SET ...]; null properties are 22N31;
//	                              a created node clashing with a constraint is 22N41
//	SET                           v.k = e, v = map, v += map (null removes), v:L1:L2
//	REMOVE                        v.k, v:L1:L2
//	DELETE                        [DETACH] DELETE e, ...; a node left with relationships at the end of the statement
//	                              is Neo.ClientError.Schema.ConstraintValidationFailed
//	CREATE CONSTRAINT             [name] [IF NOT EXISTS] FOR (v:L) | ()-[v:T]-() REQUIRE v.k | (v.k, ...)
//	                              IS [NODE | RELATIONSHIP] KEY | IS UNIQUE; alone in its transaction
//	SHOW CONSTRAINTS              SHOW [ALL | KEY | NODE KEY | RELATIONSHIP KEY | UNIQUE | NODE UNIQUE | RELATIONSHIP UNIQUE]
//	                              CONSTRAINTS [YIELD ... [WHERE pred]], Neo4j's columns (cypher_show.go)
//	Expressions                   literals, $params, lists, maps, v.k, list[i], map['k'], + - * / % ^, unary -,
//	                              = <> < > <= >=, AND OR XOR NOT, IS [NOT] NULL, IN, STARTS WITH, ENDS WITH,
//	                              CONTAINS, v:Label, CASE
//	Functions                     elementId, labels, type, keys, properties, startNode, endNode, size, coalesce,
//	                              head, last, toString, toInteger, toFloat (no id(): use elementId())
//	Results                       nodes as Bolt Node (0x4E: id, labels, properties, element_id), relationships
//	                              as Relationship (0x52, 8 fields with element ids); summary "stats" and type
//
// Anything else is Neo.ClientError.Statement.SyntaxError (42001) with a message naming the
// construct, for example "FOREACH is not supported", "named paths", "variable-length
// relationships", "CALL subqueries", "list comprehensions", "UNION", "PROFILE".
//
// Writes go through the Tx methods of the Go API and commit through the same path as
// Database.Write, so their CDC records are those of the equivalent Go transaction. The
// metadata takes authenticatedUser from the login, executingUser from the effective user
// (imp_user), connectionClient/Server from the socket and txMetadata from BEGIN or from an
// auto-commit RUN. An auto-commit write holds the database's write lock for the statement;
// an explicit transaction takes it at its first write and releases it at COMMIT, ROLLBACK,
// RESET, failure or disconnection. Statements that only read see a copy of the committed
// graph's maps taken at their start, so they never wait for a writer. A write in a read
// transaction (mode "r") fails with Neo.ClientError.Statement.AccessMode. Key and uniqueness
// constraints are checked after every write statement and again at commit.
//
// # Graph, transactions and the CDC log (dbms.go, database.go, tx.go, commit.go, changelog.go, schema.go)
//
// Each database has a store UUID (in element ids "4:<uuid>:<n>" and "5:<uuid>:<n>" and in
// change ids), node and relationship key constraints, a capture mode (txLogEnrichment FULL,
// DIFF or OFF) and an ordered log of committed transactions. A commit reduces the transaction
// to its net effect per entity (a node created and deleted in one transaction leaves nothing)
// and appends one record per changed entity with the 11 metadata keys (captureMode,
// databaseName, serverId, txStartTime, txCommitTime, txMetadata, executingUser,
// authenticatedUser, connectionType, connectionClient, connectionServer) and a node or
// relationship event with keys from the key constraints and before/after states shaped by the
// capture mode in force at commit. The Session passed to Write supplies the user and
// connection metadata.
//
// # Change identifiers and queries (changeid.go, query.go, selectors.go)
//
// Ids use the version 5 layout observed on Neo4j (version byte, store UUID, txId, seq, commit
// millis; base64url). current is (last txId, seq MAX) and earliest the end of the newest
// transaction no longer retained; both are exclusive. query(from, selectors) validates the id
// (52N26 malformed, 52N31 other database, FutureIdentifier 52N30, 52N29 before the enrichment
// epoch, pruned, 52N27 commit time mismatch, 52N32 bad sequence number), requires an admin
// (Neo.ClientError.Security.Forbidden otherwise) and returns every later record, in (txId, seq)
// order, matching any selector (entity, node or relationship selectors with operation,
// changesTo, users, txMetadata, elementId, labels, key, type, start and end).
//
// # Retention and faults (database.go, faults.go, admin.go)
//
// Database.SetRetention and Prune drop old transactions as log rotation would; ids into them
// become invalid. SetCaptureMode switches DIFF/FULL mid-stream, or OFF, which fails every CDC
// call with Neo.DatabaseError.ChangeDataCapture.Disabled and, when switched back on, outdates
// every earlier id. On the Server, WithFaultPlan puts faults in force for its whole life: drop
// every connection every interval, fail a seeded fraction of the statements with a given code
// (one draw per statement in arrival order, so a seed fixes which ones fail), delay every
// response. FailNext(n, code, message) fails the next n statements (Transient codes make the
// driver retry), SetFailFraction and SetDelay change the plan's fraction and delay,
// RefuseConnections closes new connections at once, and DropConnections cuts every open one.
// Stats counts connections, statements and injected faults. AdminHandler serves all of these,
// Prune and the capture mode as a JSON admin API (cmd/neo4jsim --admin-listen); README.md in
// this directory documents the API and the flags.
//
// # Workload (workload.go)
//
// NewWorkload(db, seed).Run(ctx, rate) commits deterministic transactions on a Person/Company
// graph with key constraints, every property type, transaction metadata, multi-change
// transactions, label changes, property removal and deletes. cmd/neo4jsim runs it behind the
// server.
//
// # Choices where the specifications are uncertain
//
//   - Server agent "Neo4j/5.26.0"; HELLO hints are empty by default. The
//     connection.recv_timeout_seconds hint is opt-in (WithRecvTimeoutHint) because the Go driver
//     then races every socket read against a timer in a new goroutine, which costs a large
//     share of its read throughput; telemetry.enabled is opt-in (WithTelemetry), as on a
//     self-managed server; ssr.enabled is never sent.
//   - BEGIN and auto-commit RUN without a db answer with db (Bolt 5.8 home database);
//     RUN SUCCESS has fields and t_first, plus qid in explicit transactions; the last PULL
//     has type "r", t_last and db. Injected delays apply to statements (RUN) only.
//   - GQLSTATUS of errors without a documented one: 42NFF for Unauthorized and Forbidden,
//     42001 for syntax errors, 42N08 for an unknown procedure, 08N06 for protocol errors,
//     22G03 for argument type errors, 50N42 (the driver's own default) otherwise, including
//     errors injected with FailNext. db.cdc.query arguments must be a STRING and a LIST, and
//     null is a TypeError.
//   - Records of a transaction are ordered nodes first, then relationships, each by internal
//     id; this does not follow causality, so consumers must treat a transaction as a set.
//   - Top-level node labels and keys describe the entity before the change for updates and
//     deletes and after it for creates; relationship start/end describe the end node before
//     the transaction (or as created); DIFF updates always carry labels lists.
//   - txStartTime and txCommitTime are DateTime structs 0x49 with offset 0, in milliseconds.
//   - A pruned id fails with InvalidIdentifier, GQLSTATUS 52N28 and Neo4j 2025's message
//     "Unable to find the transaction entry for the given change identifier".
//   - Invalid selectors fail with Neo.ClientError.Procedure.ProcedureCallFailed, GQLSTATUS
//     51N67 for a wrong start/end selector type and 52N16 otherwise; unknown keys are rejected.
//   - Ids with a trailing "=" are accepted; only the version 5 id layout is.
//   - Cypher: YIELD column names match case-insensitively (Neo4j is case-sensitive). Key
//     and uniqueness violations carry GQLSTATUS 22N79, a missing key property 22N77, a
//     node deleted with relationships left none (50N42). ORDER BY puts nulls last ascending
//     and first descending, as Neo4j does. EXPLAIN plans have one operator per clause under
//     ProduceResults (EmptyResult without columns); their shape is not Neo4j's planner's.
//     Aggregates count only as whole items (count(n) + 1 is unsupported). A schema command
//     applies at once, even inside an explicit transaction.
package neo4jsim
