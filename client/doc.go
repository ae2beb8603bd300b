// Package client is the Go client library of cdcstream: a change-stream subscription that
// resumes by itself, de-duplicates, and reports every loss of continuity instead of hiding it.
//
// It depends only on the generated contract (gen/cdcstream/v1), grpc and genproto's errdetails.
//
// # Use
//
//	conn, err := grpc.NewClient("127.0.0.1:50051", grpc.WithTransportCredentials(insecure.NewCredentials()))
//	...
//	c := client.New(conn)
//	sub := c.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{Database: "neo4j"},
//		client.WithCheckpointStore(client.NewFileStore("neo4j.cursor")))
//	defer sub.Close()
//	for sub.Receive() {
//		if ch := sub.Msg().GetChange(); ch != nil {
//			apply(ch) // the caller's side effect
//		}
//		if err := sub.Commit(ctx); err != nil { ... } // after the side effect
//	}
//	if err := sub.Err(); err != nil { ... }
//
// Snapshots (SubscribeRequest.snapshot): the Subscription delivers SnapshotRecord,
// SnapshotProgress and SnapshotEnd through Msg, resumes a broken snapshot at the chunk after
// the newest SnapshotProgress token, and continues after SnapshotEnd like any stream
// (snapshot.go states the details).
//
// Transaction markers (SubscribeRequest.transaction_markers): Receive also yields
// TransactionEnd messages through Msg, one after the last change of each transaction it
// delivered, before anything of a later transaction. The library makes them whole across its
// own resumes: a server counts only the changes its own stream sent, so the library replaces
// change_count with every change of that transaction it delivered, over all attempts, and
// cursor with the cursor of the last of them. When an attempt ends right after a transaction's
// last change and the resumed stream starts after it, no server stream can mark that
// transaction; the library then synthesizes its marker (change count, last cursor, commit time
// from the changes' metadata) as soon as a change of another transaction, or a checkpoint of
// the resumed stream at a cursor other than that last change's, proves it ended, and yields
// that change or checkpoint next (a checkpoint on the stream that sent the transaction's
// changes proves nothing: it may sit inside a large transaction, and that stream marks it). No transaction gets two markers: a server marker arriving after the library's own, or
// repeated by a resumed stream, is dropped. At a reported Gap an unmarked transaction gets no
// marker (changes of it may be lost). Committing a marker stores its cursor. txmarker.go states
// the details; without the request field the library neither passes on nor makes markers.
//
// # Delivery contract
//
// Ordered: changes arrive in commit order, (tx_id, seq) ascending, as the server guarantees.
//
// Exactly once within a Subscription: underneath, delivery is at least once (after a reconnect
// the server may send a change again), but a Subscription never delivers a change whose
// (tx_id, seq) is not greater than the last one it delivered. This high-water mark is O(1) in
// memory; it restarts only together with a reported Gap.
//
// Large changes: a change too large for one gRPC message arrives as ChangeFragment messages
// (see docs/semantics.md, "Large changes"); Receive reassembles them and yields the change like
// any other, so callers never see a fragment. A change larger than WithMaxChangeBytes (default
// 128 MiB) ends the subscription with a *ChangeTooLargeError; fragments that do not continue the
// change in progress end the stream attempt with INTERNAL (retried a bounded number of times);
// a change partly received when its stream breaks is dropped and comes again whole after the
// resume, since its cursor had not been delivered.
//
// Cursors: every change and every checkpoint carries a cursor, and subscribing from a cursor
// continues strictly after it. Cursor returns the newest cursor received. Checkpoints mean every
// matching change up to their cursor was sent, so idle subscriptions still advance.
//
// End-to-end exactly once: with WithCheckpointStore the subscription starts from the stored
// cursor (overriding the request's start), and the caller calls Commit after its side effect for
// a message; Commit stores that message's cursor. A crash between the side effect and Commit
// repeats at most that one message after restart, so a side effect that is idempotent per
// (tx_id, seq), or committed atomically with the cursor, gives exactly-once end to end.
// FileStore survives a crash at any instant.
//
// # Resumption
//
// Receive reconnects on its caller's goroutine, from the newest cursor, with the request
// otherwise unchanged. Between attempts it waits a random time in [0, min(max, initial*2^n)]
// (full jitter, see WithBackoff), or exactly the server's google.rpc.RetryInfo delay when one is
// sent. A stream on which nothing (change or checkpoint) arrives for three checkpoint intervals
// is dropped and resumed (the watchdog, see WithWatchdog).
//
// Which status codes and reasons exist, what each means and what a client does about it is
// written once, in the error table of docs/semantics.md; the reasons are the enum ErrorReason of
// proto/cdcstream/v1/errors.proto ([cdcstreamv1.ErrorReason]), sent in a google.rpc.ErrorInfo
// of domain cdcstream.v1. This library follows that table, deciding by status code and reason
// only, never by message text, and adds these rules of its own:
//
//   - UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED and DEADLINE_EXCEEDED, whatever the reason (a
//     proxy may send them without one), a stream that ends without a status, and transport
//     errors are retried with backoff, without bound unless WithMaxRetries sets one;
//   - INTERNAL and UNKNOWN are retried a bounded number of times in a row
//     (WithMaxInternalRetries, default 5);
//   - a planned end (reason STREAM_ROTATED or SERVER_SHUTTING_DOWN) of an attempt that delivered
//     messages resumes at once, spending no backoff and no retry budget; after an attempt that
//     delivered nothing it counts as an ordinary failure, so a refusing server cannot make the
//     client spin;
//   - the caller's cancellation (Close, or the context passed to Subscribe) stops, and so does
//     every other code, including OUT_OF_RANGE without CURSOR_EXPIRED and CANCELED sent by a
//     server or proxy;
//   - CURSOR_EXPIRED follows WithExpiredPolicy (below).
//
// Any budget ends the subscription with the last error. ErrorDetails reads a status the way the
// library does: its code, the cdcstream ErrorInfo (reason and metadata), RetryInfo and
// BadRequest.
//
// A start at START_POSITION_NOW is first pinned to a cursor with GetCursor, so a reconnect
// before the first message cannot skip changes. The watchdog bounds that call too.
//
// # Expired cursors and gaps
//
// Under ExpiredFail (the default) the subscription ends and Err returns a *CursorExpiredError;
// IsCursorExpired and EarliestCursor inspect it. Under ExpiredRestartEarliest or
// ExpiredRestartNow the subscription restarts at the earliest retained change or at the current
// head, and Receive first yields a synthetic message, a Checkpoint holding the restart cursor,
// for which Gap returns non-nil (From, the expired cursor; Resumed, the restart cursor). Gap is
// nil for every other message. Committing that message records that the caller accepted the gap.
//
// # Concurrency
//
// A Client is safe for concurrent use. Receive, Msg, Gap, Err and Commit of one Subscription
// must be called from one goroutine at a time; Cursor and Close are safe from any goroutine.
// The library starts no goroutines of its own beyond the watchdog's timer. It exports no
// metrics; it logs through an optional *slog.Logger (WithLogger).
package client
