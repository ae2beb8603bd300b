// Package limits guards Subscribe streams from the outside, as a gRPC stream interceptor:
//
//   - Concurrent subscriptions per token: a caller (identified by the authenticated token's
//     name, see WithPrincipal) holding the maximum number of open Subscribe streams gets
//     RESOURCE_EXHAUSTED with ErrorInfo reason TOO_MANY_SUBSCRIPTIONS and a RetryInfo.
//   - Maximum stream age: a stream open for the maximum age (jittered ±10 % so that streams
//     opened together do not all rotate together) is rotated. The interceptor cancels the
//     handler's context, waits for the handler to return, then itself sends a final Checkpoint
//     carrying the newest cursor that went out on the stream, and ends the stream with
//     UNAVAILABLE, reason STREAM_ROTATED and RetryInfo 0s. A client resuming from that cursor
//     (on any replica) loses nothing, load balancers rebalance long-lived streams, and no
//     stream is cut mid-message by a proxy's own maximum age.
//
// The newest cursor is tracked in the wrapped SendMsg (ChangeEvent.cursor and
// Checkpoint.cursor of messages sent successfully). If the stream sent nothing yet, the
// request's from_cursor is used; without either, the stream ends with STREAM_ROTATED and no
// checkpoint (the client resumes from its own start). When the handler ended for a reason of
// its own (an error, a server shutdown) its status is returned unchanged.
//
// Cancelling the handler's context does not interrupt a send that is blocked on HTTP/2 flow
// control, so a stream whose client stopped reading rotates once the client reads again (or
// ends when its connection does).
//
// Other methods and services pass through untouched.
package limits
