package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cdcstream/cdcstream/server"
)

// tracerName is the instrumentation scope of the Source spans.
const tracerName = "github.com/cdcstream/cdcstream/internal/tracing"

// TraceSource returns src with one client span per Neo4j call: "cdc.poll" (attributes
// db.system.name, db.namespace, cdc.limit, cdc.selectors, cdc.changes), "cdc.current" and
// "cdc.earliest". Errors are recorded on the span. Only calls made inside a traced RPC get a
// span (the shared head probe, which runs outside any RPC, would otherwise emit a root span per
// database per poll interval). Ping is not traced.
func TraceSource(src server.Source, tp trace.TracerProvider) server.Source {
	return &tracedSource{src: src, tracer: tp.Tracer(tracerName)}
}

// tracedSource is the decorator behind TraceSource.
type tracedSource struct {
	src    server.Source
	tracer trace.Tracer
}

func (s *tracedSource) start(ctx context.Context, name, database string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs, attribute.String("db.system.name", "neo4j"), attribute.String("db.namespace", database))
	return s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// traced reports whether ctx carries a span to be a child of.
func traced(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid()
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (s *tracedSource) Poll(ctx context.Context, req server.PollRequest) (server.Batch, error) {
	if !traced(ctx) {
		return s.src.Poll(ctx, req)
	}
	ctx, span := s.start(ctx, "cdc.poll", req.Database,
		attribute.Int("cdc.limit", req.Limit), attribute.Int("cdc.selectors", len(req.Selectors)))
	b, err := s.src.Poll(ctx, req)
	span.SetAttributes(attribute.Int("cdc.changes", len(b.Changes)))
	end(span, err)
	return b, err
}

func (s *tracedSource) Current(ctx context.Context, database string) (string, error) {
	if !traced(ctx) {
		return s.src.Current(ctx, database)
	}
	ctx, span := s.start(ctx, "cdc.current", database)
	id, err := s.src.Current(ctx, database)
	end(span, err)
	return id, err
}

func (s *tracedSource) Earliest(ctx context.Context, database string) (string, error) {
	if !traced(ctx) {
		return s.src.Earliest(ctx, database)
	}
	ctx, span := s.start(ctx, "cdc.earliest", database)
	id, err := s.src.Earliest(ctx, database)
	end(span, err)
	return id, err
}

func (s *tracedSource) Ping(ctx context.Context) error { return s.src.Ping(ctx) }
