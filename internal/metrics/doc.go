// Package metrics exposes cdcstream's Prometheus metrics, from outside the service: gRPC
// server metrics (go-grpc-middleware's providers/prometheus), a stream interceptor that
// observes Subscribe streams, and a server.Source decorator (InstrumentSource) that observes
// every Neo4j call. An HTTP handler serves them at /metrics (cdcstreamd --metrics-listen).
//
// Every cdcstream metric is labelled by database, never by token or caller:
//
//	cdcstream_subscriptions_active{database}               gauge: open Subscribe streams
//	cdcstream_changes_sent_total{database}                 counter: ChangeEvents sent
//	cdcstream_checkpoints_sent_total{database}             counter: Checkpoints sent
//	cdcstream_delivery_lag_seconds{database}               histogram: send time minus the
//	                                                       change's tx_commit_time
//	cdcstream_poll_duration_seconds{database}              histogram: Source.Poll latency
//	cdcstream_neo4j_statements_total{database}             counter: Cypher statements issued
//	                                                       (a poll is 2, current/earliest 1)
//	cdcstream_source_errors_total{database,operation,reason} counter: failed Neo4j calls by
//	                                                       operation (poll, current, earliest)
//	                                                       and reason (see ErrorReason)
//
// plus grpc_server_started_total, grpc_server_handled_total{grpc_code},
// grpc_server_msg_sent_total, grpc_server_msg_received_total and
// grpc_server_handling_seconds (for streams: their lifetime), and the Go and process
// collectors.
//
// A stream counts as active from its first request message (its database is known then)
// until its handler returns. A request naming no database counts under the default database
// (WithDefaultDatabase). So that clients naming random databases cannot grow the label set,
// the gauge's series of a database for which no message was ever sent (it does not exist, or
// the request was refused) is removed when its last stream ends. Calls cancelled by their
// caller are not counted as errors. Neo4j calls for a database never seen to exist are
// labelled database="_unknown" (UnknownDatabase) for the same reason.
package metrics
