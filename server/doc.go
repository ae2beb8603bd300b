// Package server implements cdcstream.v1.ChangeStreamService: typed, resumable gRPC change
// streams over Neo4j Change Data Capture. It reaches Neo4j only through the Source interface
// (implemented by internal/neo4jcdc; tests use servertest.FakeSource) and imports neither
// the Neo4j driver nor the client library.
//
// # Typical use
//
//	srv, err := server.New(src, server.WithLogger(logger))
//	if err != nil { ... }
//	g := grpc.NewServer()
//	srv.Register(g)
//	go g.Serve(lis)
//	...
//	// on SIGTERM: health NOT_SERVING, then
//	_ = srv.Shutdown(ctx) // final checkpoints, UNAVAILABLE SERVER_SHUTTING_DOWN
//	g.GracefulStop()      // with a bounded wait, then g.Stop()
//
// # Guarantees of a Subscribe stream
//
//   - Ordered: within the database, changes arrive in commit order, (tx_id, seq) ascending,
//     exactly as the Source returns them.
//   - Reliable: the cursor only moves to the last change sent or, after a poll that matched
//     nothing, to the current id read in the same transaction as the query, so no matching
//     change inside Neo4j's retained log is skipped.
//   - Resumable: every ChangeEvent and Checkpoint carries a Cursor (id and database). The
//     cursor is exclusive: subscribing from it continues strictly after it.
//   - Bookmarkable: a Checkpoint means every matching change up to its cursor was sent. A
//     stream that sent nothing for checkpoint_interval (default 10s, allowed 1s..5m, jittered
//     by ±10%) gets one; idle streams therefore keep a fresh cursor that advances past
//     non-matching changes. A stream started at a named position (NOW, EARLIEST) gets a
//     Checkpoint at once, so the client holds a cursor from the start.
//   - At least once: resuming from an older cursor repeats changes; (tx_id, seq) identifies a
//     change.
//   - Honest failure: an expired cursor ends the stream with OUT_OF_RANGE, reason
//     CURSOR_EXPIRED, ErrorInfo metadata "earliest_cursor" (and "database"); it never jumps.
//
// # Snapshots
//
// A request with snapshot set first runs the snapshot (snapshot.go): with a Source that is
// also a Snapshotter (snapshot_source.go), holding one of WithMaxSnapshots tokens, it reads
// chunks of WithSnapshotChunkSize entities, checks each against the change log read between
// a low and a high watermark (the DBLog algorithm), re-reads what changed, sends the records
// and a SnapshotProgress whose token (snapshot_token.go) resumes after the chunk, then a
// SnapshotEnd; the stream then runs as one started from SnapshotEnd's cursor (or ends OK with
// SNAPSHOT_MODE_ONLY). Observers implementing SnapshotObserver see its progress.
// docs/semantics.md "Snapshots" is the contract.
//
// # How a stream runs
//
// The handler goroutine is the supervisor: it validates the request before any Neo4j call
// (INVALID_ARGUMENT with ErrorInfo and BadRequest naming the field, e.g.
// "selectors[2].node.labels[0]"), takes a subscription slot, resolves the start (the cursor,
// or Source.Current / Source.Earliest), starts one poller goroutine, runs the sender itself,
// and waits for the poller before returning. The poller is the only caller of Source for
// the stream; it hands each batch over a channel of capacity 1 and does not poll again until
// the sender took it, so a client that reads slowly pauses polling and server memory stays
// flat. A full batch (WithBatchLimit) is followed at once by the next poll; otherwise the
// poller waits. The sender is the only caller of Send.
//
// # The shared tail
//
// With WithSharedTail (the default), each database with subscriptions has one tail reader:
// when the head moves it polls Neo4j once without selectors and appends the changes, encoded
// once, to a window bounded in bytes (WithTailWindowBytes). A subscription whose cursor is in
// the window (synced) is served from it: its poller matches each change in process (Matcher,
// Neo4j's selector semantics, proven against db.cdc.query by a parity test) and its sender
// writes the shared bytes through a pass-through codec (encode.go). A subscription behind the
// window (unsynced) polls with its selectors until it is near the head, then joins: it polls
// without selectors until it meets a change the window holds, and continues in the window
// right after it, without gap or repeat. A synced subscription whose position the window
// evicts becomes unsynced. Batches read by per-subscription polls count against one in-flight
// budget (WithMaxInFlightBytes). Projected changes are encoded per subscription.
// Subscriptions without selectors that start behind the window share a catch-up trail
// (trail.go): one unfiltered history read paced by its fastest reader, which ends in a join of
// the tail. Origin exclusion (exclude_tx_metadata) and transaction end markers (txend.go) are
// applied by the poller on every path. See docs/architecture.md section 9.
//
// Idle streams cost O(1) Neo4j queries per database: one head prober per database calls
// Source.Current once per poll interval for all its streams, and a stream whose last poll saw
// the current head polls again only when the prober sees the head move. At most every 30 s the
// prober also reads the oldest retained change, for the retention headroom that checkpoints
// carry and Observer.Headroom reports (headroom.go). A poll answered with
// ErrFutureCursor (a lagging cluster member) is retried with backoff, for at most
// WithFutureCursorTimeout (then OUT_OF_RANGE, CURSOR_IN_FUTURE: a forged cursor); a client's
// cursor gets no Checkpoint before a poll accepted it. Every Send runs under a watchdog
// (WithSendTimeout): a client that stops reading is cut off with UNAVAILABLE, SEND_TIMEOUT.
//
// # Errors
//
// The end of every RPC is logged through a LogSampler (WithLogSampleRate lines per reason and
// second), and refusals before any Neo4j work are counted by Observer.Refused.
//
// Every error becomes a status in one place, Status (errors.go), with google.rpc.ErrorInfo
// (domain ErrorDomain) whose reason is a cdcstreamv1.ErrorReason name, plus RetryInfo and
// BadRequest where the error table says so. A Source reports Neo4j's failures by wrapping the
// Err* sentinels; the edges refuse calls with ErrUnauthenticated, ErrPermissionDenied and
// ErrTooManySubscriptions, and Reason classifies any of them for metrics. The table itself,
// cause by cause with what a client should do, lives once, in docs/semantics.md (a test keeps
// it complete); errors.proto documents each reason.
//
// # Admission, observers and rotation
//
// WithAdmission lets the edges authorise a call on exactly the database the server will read
// (validated, defaulted, lower-cased) and take per-principal slots, before any Neo4j call;
// interceptors only authenticate. WithObserver feeds metrics from the stream's own events
// (started, ended with code and reason, change sent with its commit time, checkpoint sent,
// polled). WithMaxStreamAge rotates streams in the sender, on the same path as shutdown: a
// final Checkpoint with the newest cursor, then UNAVAILABLE with STREAM_ROTATED (RetryInfo 0s).
//
// # Names
//
// Database names are validated (3..63 ASCII letters, digits, '.', '-', '_'; starting with a
// letter) and lower-cased, as Neo4j treats them case-insensitively; cursors in responses
// carry the lower-cased name.
//
// # Shutdown, health and metrics
//
// Shutdown refuses new streams, aborts streams still resolving their start, makes each open
// stream send a final Checkpoint with its newest cursor and end with UNAVAILABLE
// SERVER_SHUTTING_DOWN, and waits for them (or for its context). Ready reports whether the
// server is not shutting down and the Source reaches Neo4j, for health checks. Stats returns
// counters (polls, head probes, messages sent, rotations, open, idle and back-pressured
// streams), fed by the same Observer events that WithObserver exports.
//
// # Configuration and tests
//
// New validates its options (each With… documents its default and range) and returns an
// error rather than panicking. Time comes from a Clock (WithClock); package servertest
// provides a manual clock and a scriptable fake Source so that tests never sleep.
package server
