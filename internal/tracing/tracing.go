package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// Option configures Setup.
type Option func(*options)

// options are Setup's settings.
type options struct {
	getenv   func(string) string
	exporter sdktrace.SpanExporter
	version  string
}

// WithGetenv sets how environment variables are read. Default os.Getenv. (The OTLP exporter
// itself reads the process environment for its OTEL_EXPORTER_OTLP_* settings.)
func WithGetenv(getenv func(string) string) Option {
	return func(o *options) {
		if getenv != nil {
			o.getenv = getenv
		}
	}
}

// WithExporter exports spans to e instead of OTLP, and turns tracing on whatever the
// environment says (tests).
func WithExporter(e sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporter = e }
}

// WithServiceVersion sets the service.version resource attribute.
func WithServiceVersion(v string) Option {
	return func(o *options) { o.version = v }
}

// Tracing is the process's tracing: a tracer provider (a no-op one when off).
type Tracing struct {
	tp       trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
	endpoint string
}

// Setup turns tracing on when the environment asks for it (see the package doc) and returns
// the process's Tracing; when off, everything it returns is a no-op.
func Setup(ctx context.Context, opts ...Option) (*Tracing, error) {
	o := options{getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	endpoint := o.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = o.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	disabled := strings.EqualFold(strings.TrimSpace(o.getenv("OTEL_SDK_DISABLED")), "true")
	if o.exporter == nil && (endpoint == "" || disabled) {
		return &Tracing{tp: noop.NewTracerProvider()}, nil
	}
	exp := o.exporter
	if exp == nil {
		var err error
		exp, err = otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
	}
	name := o.getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "cdcstreamd"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if o.version != "" {
		attrs = append(attrs, attribute.String("service.version", o.version))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		res = resource.NewSchemaless(attrs...)
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{tp: sdk, sdk: sdk, endpoint: endpoint}, nil
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Endpoint is the OTLP endpoint from the environment ("" when off or with WithExporter).
func (t *Tracing) Endpoint() string { return t.endpoint }

// TracerProvider is the provider to create tracers from (a no-op one when off).
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.tp }

// ServerOptions returns the grpc.Server options that trace RPCs: the otelgrpc stats handler,
// or nothing when tracing is off.
func (t *Tracing) ServerOptions() []grpc.ServerOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.tp),
		otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/")
		}),
	))}
}

// Shutdown flushes buffered spans and stops exporting; a no-op when off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// ForceFlush exports the spans buffered so far without stopping; a no-op when off.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}
