// Package polyglot holds the tests that prove cdcstream's contract from outside Go: the example
// consumers in examples/python, examples/node and examples/java, grpcurl and grpc-health-probe,
// each run as a separate process against a real gRPC server on 127.0.0.1.
//
// The package has no non-test code. Its tests:
//   - run every example consumer against a scripted in-process server and check what it prints
//     (every field of every change, in the protobuf JSON mapping, with int64 values exact), how it
//     resumes from its newest cursor after UNAVAILABLE, and when it gives up;
//   - check that every consumer acts on the google.rpc.ErrorInfo reason of the status details,
//     compared with its generated ErrorReason enum: it resumes across the rotations of a real
//     `cdcstreamd --demo --max-stream-age 1s` at once and without losing or repeating a change,
//     honours RetryInfo, and stops on CURSOR_EXPIRED naming the earliest retained cursor;
//     and that the google.rpc protos in examples/proto-deps match the server's (genproto);
//   - start the real cdcstreamd --demo binary and debug it with grpcurl and grpc-health-probe the
//     way a person would;
//   - read the same range of changes from one cdcstreamd --demo with the Go, Python, Node and
//     Java clients and require identical results.
//
// Language runtimes come from Debian packages and npm (`make polyglot-deps`). A missing runtime
// skips the tests that need it, with the reason and the command that installs it; with
// CDCSTREAM_REQUIRE_POLYGLOT=1 (set by CI) it fails them instead, so CI never counts a skip as a
// pass.
package polyglot
