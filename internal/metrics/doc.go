// Package metrics exposes cdcstream's Prometheus metrics: gRPC server metrics
// (go-grpc-middleware's providers/prometheus, as interceptors), the service's stream events
// through a server.Observer (Metrics.Observer, passed to server.WithObserver), and a
// server.Source decorator (InstrumentSource) that observes every Neo4j call. Nothing here
// reads a cdcstream message. An HTTP handler serves them at /metrics (cdcstreamd
// --metrics-listen).
//
// Every cdcstream metric is labelled by database (cdcstream_refusals_total by RPC: a refused
// call's database is not known to exist), never by token or caller:
//
//	cdcstream_subscriptions_active{database}               gauge: open Subscribe streams
//	cdcstream_streams_ended_total{database,code,reason}    counter: streams ended, by status
//	                                                       code and ErrorInfo reason
//	                                                       (STREAM_ROTATED, SERVER_SHUTTING_DOWN,
//	                                                       CURSOR_EXPIRED...; "none" for none)
//	cdcstream_changes_sent_total{database}                 counter: ChangeEvents sent
//	cdcstream_checkpoints_sent_total{database}             counter: Checkpoints sent
//	cdcstream_delivery_lag_seconds{database}               histogram: send time minus the
//	                                                       change's tx_commit_time
//	cdcstream_poll_duration_seconds{database}              histogram: Source.Poll latency
//	cdcstream_neo4j_statements_total{database}             counter: Cypher statements issued
//	                                                       (a poll is 2, current/earliest 1)
//	cdcstream_source_errors_total{database,operation,reason} counter: failed Neo4j calls by
//	                                                       operation (poll, current, earliest)
//	                                                       and reason (server.Reason)
//	cdcstream_refusals_total{rpc,reason}                   counter: calls refused before any
//	                                                       Neo4j work (Observer.Refused; the
//	                                                       auth interceptors' too)
//	cdcstream_snapshots_active{database}                   gauge: subscriptions taking a snapshot
//	cdcstream_snapshot_chunks_total{database}              counter: snapshot chunks sent
//	cdcstream_snapshot_records_total{database,phase}       counter: SnapshotRecords sent, phase
//	                                                       nodes or relationships
//	                                                       (server.SnapshotObserver)
//
// Transport (transport.go, registered on the same registry by cdcstreamd) adds the
// connection and request guards' counts, unlabelled or labelled by a fixed cause:
// cdcstream_connections_accepted_total, cdcstream_connections_open,
// cdcstream_connections_rejected_total, cdcstream_requests_rejected_total{cause} and
// cdcstream_handler_panics_total;
//
// plus grpc_server_started_total, grpc_server_handled_total{grpc_code},
// grpc_server_msg_sent_total, grpc_server_msg_received_total and
// grpc_server_handling_seconds (for streams: their lifetime), and the Go and process
// collectors.
//
// A stream counts as active from the moment the service admitted it (its database validated,
// defaulted and lower-cased by the server) until it ends. So that clients naming random
// databases cannot grow the label set, the gauge's series of a database for which no message
// was ever sent (it does not exist) is removed when its last stream ends, and streams ended
// for such a database count under database="_unknown" (UnknownDatabase), as do Neo4j calls
// for a database never seen to exist. Calls cancelled by their caller are not counted as
// errors.
package metrics
