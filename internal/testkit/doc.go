// Package testkit is the one test kit of cdcstream: tests import it, nothing else does.
//
// Contract:
//   - Serve starts a real gRPC server on 127.0.0.1 port 0, dials it and stops both when the test
//     ends (tb.Cleanup): connection closed, server stopped, Serve's goroutine returned. Tests get
//     loopback TCP, not an in-memory pipe, so the kernel, HTTP/2 framing and flow control are
//     the real ones. Dial is the client half alone, for servers a test starts otherwise.
//   - Stub is a ChangeStreamService made of function fields (SubscribeF, GetCursorF), the shape
//     of grpc-go's internal/stubserver. Scripts plays a list of Script values, one per Subscribe
//     call, and records the requests. Change, Checkpoint and CursorID build messages with the
//     kit's one cursor syntax, "c-<tx>-<seq>", in database DB.
//   - The Value builders (Int, String, List, Map, Date, DateTimeZone, ...) build
//     cdcstreamv1.Value trees without the oneof wrappers.
//   - StatusDetails reads a status error the way a client must: code, ErrorInfo reason as
//     cdcstreamv1.ErrorReason (checked to be in Domain), metadata, RetryInfo, BadRequest fields.
//     StatusError builds such an error, for fakes.
//
// The package depends only on the generated code, grpc, protobuf and genproto's errdetails (the
// import-rules test in internal/importrules enforces it), so the client package's tests can use
// it without pulling in the server or the Neo4j driver. Nothing here starts a goroutine that
// outlives the test, so packages verified by goleak can use it.
package testkit
