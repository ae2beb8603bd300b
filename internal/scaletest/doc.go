// Package scaletest proves that cdcstreamd scales out: several replicas, run as real processes
// behind a real gRPC load balancer (Debian's HAProxy, configured from
// deploy/haproxy/cdcstream.cfg.tmpl), serve consumers that see every change the database
// logged exactly once while replicas are SIGKILLed and restarted and --max-stream-age rotates
// streams across them.
//
// The package has no non-test code. Its test (`make test-scale`) runs a neo4jsim process with
// its workload generator, three cdcstreamd processes, HAProxy, and two consumers through the
// balancer: the Go client library with a FileStore checkpoint, and a cdctail process with
// --checkpoint-file. At the end it reads the simulator's whole log over Bolt with the
// neo4j-go-driver (db.cdc.earliest, db.cdc.query) and prints a verdict line: changes logged,
// delivered per consumer, lost, repeated, out of order, and per replica the streams and changes
// it served (from its /metrics) and the calls HAProxy sent it. It fails if anything was lost,
// repeated or out of order, or if a replica served nothing.
//
// HAProxy comes from Debian (`make scale-deps`). Without it the test is skipped by name with
// the install command; with CDCSTREAM_REQUIRE_POLYGLOT=1 (set by CI) it fails instead, so CI
// never counts a skip as a pass.
package scaletest
