// Package tracing sets up OpenTelemetry tracing for cdcstreamd: off unless the standard
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, then spans are
// batched to that OTLP/gRPC endpoint (the exporter reads the other standard OTEL_EXPORTER_OTLP_*
// variables: headers, insecure, timeout, certificates; OTEL_SERVICE_NAME names the service,
// default "cdcstreamd"; OTEL_SDK_DISABLED=true turns it off).
//
// It provides the otelgrpc stats handler for the grpc.Server (one span per RPC, W3C trace
// context propagated, no per-message events: streams run for hours; health checks are not
// traced) and TraceSource, a server.Source decorator giving one span per Neo4j call ("cdc.poll",
// "cdc.current", "cdc.earliest") as a child of the RPC's span.
//
// Shutdown flushes the spans still buffered.
package tracing
