// Package e2e holds the end-to-end tests: the Neo4j simulator (or a real Neo4j Enterprise
// server when NEO4J_TEST_URI is set), the real neo4j-go-driver over TCP, internal/neo4jcdc,
// the server, real gRPC over loopback, and the Go client library or the raw generated client.
//
// Every scenario that can run against a real Neo4j runs twice, as subtests named "sim" and
// "neo4j"; the "neo4j" ones write their changes with Cypher and are skipped, by name and with
// the reason, unless NEO4J_TEST_URI, NEO4J_TEST_USER and NEO4J_TEST_PASSWORD are set (the user
// needs admin to call db.cdc.query, and the database needs txLogEnrichment FULL). Scenarios
// that need the simulator's controls (pruning, switching CDC off, faults) run on the simulator
// only.
//
// The package has no non-test code.
package e2e
