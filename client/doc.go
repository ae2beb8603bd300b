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
// # Delivery contract
//
// Ordered: changes arrive in commit order, (tx_id, seq) ascending, as the server guarantees.
//
// Exactly once within a Subscription: underneath, delivery is at least once (after a reconnect
// the server may send a change again), but a Subscription never delivers a change whose
// (tx_id, seq) is not greater than the last one it delivered. This high-water mark is O(1) in
// memory; it restarts only together with a reported Gap.
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
// Receive reconnects on its caller's goroutine (no background goroutines), from the newest
// cursor, with the request otherwise unchanged. Between attempts it waits a random time in
// [0, min(max, initial*2^n)] (full jitter, see WithBackoff), or exactly the server's
// google.rpc.RetryInfo delay when one is sent. Errors are classified by status code and
// ErrorInfo reason (domain "cdcstream.v1") only, never by message text:
//
//   - resume: UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, a stream that ends without a status,
//     transport errors, and a stream on which nothing (change or checkpoint) arrived for three
//     checkpoint intervals (the watchdog, see WithWatchdog);
//   - resume at once, without backoff and without spending the retry budget: UNAVAILABLE
//     with reason STREAM_ROTATED or SERVER_SHUTTING_DOWN ending an attempt that delivered
//     messages (the server ended the stream on purpose; after an attempt that delivered
//     nothing it counts as an ordinary failure, so a refusing server cannot make it spin);
//   - resume a bounded number of times in a row (WithMaxInternalRetries, default 5): INTERNAL,
//     UNKNOWN;
//   - stop: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED,
//     UNAUTHENTICATED, UNIMPLEMENTED, OUT_OF_RANGE other than CURSOR_EXPIRED, and the caller's
//     cancellation (Close, or the context passed to Subscribe);
//   - OUT_OF_RANGE with reason CURSOR_EXPIRED follows WithExpiredPolicy.
//
// A start at START_POSITION_NOW is first pinned to a cursor with GetCursor, so a reconnect
// before the first message cannot skip changes.
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
// The library exports no metrics; it logs through an optional *slog.Logger (WithLogger).
package client
