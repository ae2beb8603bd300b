package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/grpc"

	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/tracing"
	"github.com/cdcstream/cdcstream/server"
)

// startTracing sets up OpenTelemetry tracing from the standard OTEL_* environment (off
// without OTEL_EXPORTER_OTLP_ENDPOINT).
func startTracing(ctx context.Context, logger *slog.Logger) (*tracing.Tracing, error) {
	tr, err := tracing.Setup(ctx)
	if err != nil {
		return nil, err
	}
	if tr.Enabled() {
		logger.Info("tracing to OTLP", "endpoint", tr.Endpoint())
	}
	return tr, nil
}

// neo4jOptions are the options hardening adds to the Neo4j source.
func (hd *hardening) neo4jOptions() []neo4jcdc.Option {
	if hd.cfg.neo4jUseLeader {
		return []neo4jcdc.Option{neo4jcdc.WithAccessMode(neo4jcdc.AccessWrite)}
	}
	return nil
}

// wrapSource instruments the source with metrics and tracing spans (one per Neo4j call).
func (hd *hardening) wrapSource(src server.Source) server.Source {
	var s server.Source = metrics.InstrumentSource(src, hd.metrics)
	if hd.tracing.Enabled() {
		traced := tracing.TraceSource(s, hd.tracing.TracerProvider())
		if snap, ok := s.(server.Snapshotter); ok {
			if _, kept := traced.(server.Snapshotter); !kept {
				// The tracing decorator does not know snapshots: keep them, untraced.
				traced = snapshotSource{Source: traced, Snapshotter: snap}
			}
		}
		s = traced
	}
	return s
}

// snapshotSource is a Source whose snapshot reads go to another layer of the same source.
type snapshotSource struct {
	server.Source
	server.Snapshotter
}

// serveMetrics pre-creates the gRPC series of gs's services and, with --metrics-listen,
// serves /metrics (metricsauth.go) until ctx is done (tracked by bg).
func (hd *hardening) serveMetrics(ctx context.Context, gs *grpc.Server, bg *sync.WaitGroup) error {
	hd.metrics.InitializeGRPC(serviceInfo{p: gs, g: hd.guard})
	if hd.cfg.metricsListen == "" {
		return nil
	}
	lis, err := net.Listen("tcp", hd.cfg.metricsListen)
	if err != nil {
		return fmt.Errorf("--metrics-listen %s: %w", hd.cfg.metricsListen, err)
	}
	scheme := "http"
	if hd.metricsTLS != nil {
		scheme = "https"
	}
	hd.logger.Info("serving metrics", "address", scheme+"://"+lis.Addr().String()+"/metrics", "token", hd.metricsToken != nil)
	bg.Add(1)
	go func() {
		defer bg.Done()
		if err := hd.serveMetricsHTTP(ctx, lis); err != nil {
			hd.logger.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}
