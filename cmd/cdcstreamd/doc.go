// Command cdcstreamd serves Neo4j Change Data Capture as typed, resumable gRPC streams
// (cdcstream.v1.ChangeStreamService), with gRPC health (NOT_SERVING while Neo4j is
// unreachable) and server reflection serving the commented descriptors.
//
// Configuration comes from flags, each with an environment variable as its default; the Neo4j
// password only from NEO4J_PASSWORD or --neo4j-password-file, never from a flag value. On
// SIGINT/SIGTERM it shuts down in this order: health NOT_SERVING, every stream gets a final
// checkpoint and UNAVAILABLE/SERVER_SHUTTING_DOWN, graceful stop within --shutdown-grace, then
// a hard stop that still waits for handlers, then the Neo4j driver closes. SIGHUP reloads TLS
// certificates and bearer tokens without dropping streams.
//
// Below the service it bounds what a client can hold (transport.go, guard.go): streams per
// connection, header size, handshake time, open connections, connection idle time and age,
// and the time to a call's first request message; undecodable requests are answered
// INVALID_ARGUMENT / INVALID_REQUEST, and panics in handlers INTERNAL (recovery.go). It
// warns at start and on SIGHUP about expiring certificates and secret files others can read
// (checks.go), and can serve /metrics over TLS with a bearer token (metricsauth.go).
//
// With --demo it starts an embedded Neo4j simulator (internal/neo4jsim) with a deterministic
// workload and serves that: this is what `make run` runs.
//
// main only calls run(ctx, args, getenv, stdout, stderr); everything it does is reachable from
// tests (config_test.go, hardening_test.go, and the real binary in internal/e2e).
package main
