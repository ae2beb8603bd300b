// Package hubbench measures what cdcstream costs as a hub, side by side in one run, so that a
// change to the server can be judged before and after on the same machine (issue 10, item 6;
// figures in docs/performance.md, section "The hub: cost per subscriber").
//
// It has no API: everything is in its _test.go files and runs only as benchmarks
// (`go test -run '^$' -bench NAME ./internal/hubbench/`, or `make bench`). `go test` without
// -bench runs only the short tests that prove each harness reads what it claims to read.
//
//   - BenchmarkOneStream: one stream from EARLIEST on a 10 000-change log, read by Neo4j's
//     documented poll loop written in Go with neo4j-go-driver v5 ("direct") and through the
//     real server package and neo4jcdc with a plain generated-stub gRPC consumer ("service"),
//     alternating direct, service, direct, service ... against the same simulator in one
//     process. It reports the changes/s of each and service/direct.
//   - BenchmarkActiveSubscriptions: Neo4j statements/s and cdcstreamd's RSS and heap in use
//     for 1, 200 and 2 000 active subscriptions with distinct selectors under the demo
//     workload (100 transactions/s); cdcstreamd runs as its own process.
//   - BenchmarkFanOut: changes/s delivered to 1 and to 100 full-stream subscribers from
//     EARLIEST on a 100 000-change log, cdcstreamd in its own process.
//   - BenchmarkCommitLatency: commit -> client latency (p50, p99, max) at --poll-interval
//     100ms with 1 000 active subscribers (and with 1), cdcstreamd in its own process.
//
// The simulator (internal/neo4jsim) always runs inside the benchmark process, so that its log
// can be preloaded and its statement counter (neo4jsim.Server.Stats) read exactly; every
// client reaches it over TCP with the real driver.
package hubbench
