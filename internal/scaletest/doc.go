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
// TestHealthCheckFollowsGRPCHealth proves that the template's health check is gRPC health: a
// replica whose Neo4j went away keeps running, turns NOT_SERVING, and HAProxy marks it down.
//
// TestChaos (`make test-chaos`, no HAProxy needed) runs one cdcstreamd and a cdctail process
// through at least 100 000 changes while neo4jsim drops every Bolt connection every 3 s and
// fails 5% of statements with a transient code (its --fault-* flags), and SIGKILLs cdcstreamd
// and cdctail three times each. Its verdict line counts changes logged and delivered, lost, out
// of order, repeats per consumer kill (at most one each: the change printed but not yet
// checkpointed) and repeats within one consumer process (none), and the faults that happened
// (from the simulator's admin API).
//
// HAProxy comes from Debian (`make scale-deps`). Without it the test is skipped by name with
// the install command; with CDCSTREAM_REQUIRE_POLYGLOT=1 (set by CI) it fails instead, so CI
// never counts a skip as a pass.
package scaletest
