package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/apidesc"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// healthInterval is how often Neo4j reachability is re-checked for gRPC health.
const healthInterval = 5 * time.Second

// serve runs the service until ctx is done. ready, when non-nil, receives the listen address
// once the service accepts connections (tests use it).
func serve(ctx context.Context, cfg *config, logger *slog.Logger, ready chan<- string) error {
	d, err := build(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	return d.run(ctx, ready)
}

// daemon is a built service: everything constructed, nothing listening yet.
type daemon struct {
	cfg    *config
	logger *slog.Logger
	// bgCtx ends the background goroutines (demo workload, health prober, metrics, SIGHUP),
	// tracked by bg; cancelBg ends it.
	bgCtx    context.Context
	cancelBg context.CancelFunc
	bg       sync.WaitGroup
	// closers release what build acquired, in reverse order (close runs them).
	closers []func()
	uri     string // the Neo4j URI in use (the simulator's with --demo)
	hd      *hardening
	svc     *server.Server
	gs      *grpc.Server
	hs      *health.Server
}

// build constructs the daemon: the demo simulator (with --demo), hardening, the Neo4j source,
// the service and the gRPC server with health and reflection. On error it releases what it
// built.
func build(ctx context.Context, cfg *config, logger *slog.Logger) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, logger: logger}
	d.bgCtx, d.cancelBg = context.WithCancel(context.Background())
	d.closers = append(d.closers, func() { d.cancelBg(); d.bg.Wait() })
	defer func() {
		if err != nil {
			d.close()
		}
	}()

	uri, user, password := cfg.neo4jURI, cfg.neo4jUser, cfg.neo4jPassword
	if cfg.demo {
		sim, err := startDemo(d.bgCtx, cfg, logger, &d.bg)
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, func() { sim.Close() })
		// bolt://, not neo4j://: the embedded simulator is one server, so routing adds nothing,
		// and neo4j-go-driver v5.28.4's router reads a routing table's readers outside its lock
		// while a connection error removes them (a data race the race detector reports when a
		// connection drops during a poll; see docs/architecture.md).
		uri, user, password = sim.BoltURI(), demoUser, demoPassword
	}
	d.uri = uri

	if d.hd, err = startHardening(ctx, cfg.hardening, cfg.listen, logger); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.hd.stop)
	d.hd.neo4jPasswordFile = cfg.neo4jPasswordFile
	d.hd.checkFiles(time.Now())

	src, err := neo4jcdc.Open(ctx, uri, user, password, append([]neo4jcdc.Option{neo4jcdc.WithLogger(logger)}, d.hd.neo4jOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("neo4j %s: %w", redactURI(uri), err)
	}
	d.closers = append(d.closers, func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := src.Close(closeCtx); err != nil {
			logger.Warn("closing the neo4j driver", "err", err)
		}
	})

	d.svc, err = server.New(d.hd.wrapSource(src), append([]server.Option{
		server.WithDefaultDatabase(cfg.database),
		server.WithPollInterval(cfg.pollInterval),
		server.WithBatchLimit(cfg.batchLimit),
		server.WithSharedTail(cfg.sharedTail),
		server.WithTailWindowBytes(cfg.tailWindowBytes),
		server.WithMaxInFlightBytes(cfg.maxInFlightBytes),
		server.WithSnapshotChunkSize(cfg.snapshotChunk),
		server.WithMaxSnapshots(cfg.maxSnapshots),
		server.WithDefaultCheckpointInterval(cfg.checkpointInterval),
		server.WithMaxSubscriptions(cfg.maxSubscriptions),
		server.WithMaxSelectorBytes(cfg.maxSelectorBytes),
		server.WithMaxMessageBytes(cfg.maxMessageBytes),
		server.WithLogger(logger),
	}, d.hd.serviceOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("service options: %w", err)
	}

	d.gs = grpc.NewServer(append([]grpc.ServerOption{
		// Stop (after the grace period) still waits for handlers to return, so the Neo4j
		// driver is closed only after its last use.
		grpc.WaitForHandlers(true),
	}, d.hd.serverOptions()...)...)
	// Every service reads its requests through the guard (guard.go).
	reg := d.hd.registrar(d.gs)
	d.svc.Register(reg)
	d.hs = health.NewServer()
	healthpb.RegisterHealthServer(reg, d.hs)
	if err := registerReflection(reg, d.gs); err != nil {
		return nil, err
	}
	return d, nil
}

// close releases what build acquired, newest first.
func (d *daemon) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// run listens and serves until ctx is done, then shuts down: health NOT_SERVING, final
// checkpoints (Server.Shutdown), GracefulStop bounded by --shutdown-grace, then Stop.
func (d *daemon) run(ctx context.Context, ready chan<- string) error {
	cfg, logger := d.cfg, d.logger
	if err := d.hd.start(d.bgCtx, d.gs, &d.bg); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	addr := lis.Addr().String()
	lis = d.hd.listener(lis)

	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		probeHealth(d.bgCtx, d.svc, d.hs, logger)
	}()

	served := make(chan error, 1) // the result of gs.Serve, once it returns
	go func() { served <- d.gs.Serve(lis) }()
	logger.Info("listening", "address", addr, "neo4j", redactURI(d.uri), "database", cfg.database, "demo", cfg.demo)
	if ready != nil {
		ready <- addr
	}

	select {
	case err := <-served:
		return fmt.Errorf("grpc server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.shutdownGrace)
	d.cancelBg()
	d.hs.Shutdown() // every service NOT_SERVING: load balancers stop sending new streams
	graceCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := d.svc.Shutdown(graceCtx); err != nil {
		logger.Warn("streams did not all end in time", "err", err)
	}
	stopped := make(chan struct{}) // closed when GracefulStop returns
	go func() { d.gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-graceCtx.Done():
		d.gs.Stop()
		<-stopped
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		logger.Warn("grpc server", "err", err)
	}
	logger.Info("stopped")
	return nil
}

// probeHealth keeps gRPC health in step with Neo4j's reachability: SERVING while the source
// answers, NOT_SERVING while it does not.
func probeHealth(ctx context.Context, svc *server.Server, hs *health.Server, logger *slog.Logger) {
	service := cdcstreamv1.ChangeStreamService_ServiceDesc.ServiceName
	last := healthpb.HealthCheckResponse_UNKNOWN
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, healthInterval)
		err := svc.Ready(pingCtx)
		cancel()
		st := healthpb.HealthCheckResponse_SERVING
		if err != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if ctx.Err() != nil {
			return
		}
		if st != last {
			if err != nil {
				logger.Warn("neo4j unreachable; health NOT_SERVING", "err", err)
			} else {
				logger.Info("neo4j reachable; health SERVING")
			}
			last = st
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(service, st)
		t.Reset(healthInterval)
	}
}

// The embedded simulator's credentials; it listens on loopback only.
const (
	demoUser     = "neo4j"
	demoPassword = "password"
)

// startDemo starts the embedded Neo4j simulator on loopback and its workload.
func startDemo(ctx context.Context, cfg *config, logger *slog.Logger, bg *sync.WaitGroup) (*neo4jsim.Server, error) {
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: demoUser, Password: demoPassword, Admin: true}},
		Databases:   []string{cfg.database},
		CaptureMode: "FULL",
	})
	sim, err := neo4jsim.NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo simulator: %w", err)
	}
	logger.Info("demo: embedded Neo4j simulator", "uri", sim.BoltURI(), "database", cfg.database, "rate", cfg.demoRate, "seed", cfg.demoSeed)
	// The workload plays a Bolt client of the simulator: its transactions' metadata names the
	// simulator's real address.
	w := neo4jsim.NewWorkload(dbms.Database(cfg.database), cfg.demoSeed, neo4jsim.WithSession(neo4jsim.Session{
		User: demoUser, ClientAddr: "127.0.0.1:50000", ServerAddr: sim.Addr(),
	}))
	for i := 0; i < cfg.demoPreload; i++ {
		if _, err := w.Step(); err != nil {
			sim.Close()
			return nil, fmt.Errorf("demo preload: %w", err)
		}
	}
	if cfg.demoRate > 0 {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := w.Run(ctx, cfg.demoRate); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("demo workload stopped", "err", err)
			}
		}()
	}
	return sim, nil
}

// registerReflection serves server reflection (v1 and v1alpha) from the commented descriptors
// in internal/apidesc, so `grpcurl describe` prints the API's documentation, not just its shape.
func registerReflection(reg grpc.ServiceRegistrar, gs *grpc.Server) error {
	resolver, err := apidesc.Resolver()
	if err != nil {
		return err
	}
	opts := reflection.ServerOptions{Services: gs, DescriptorResolver: resolver}
	reflectionv1.RegisterServerReflectionServer(reg, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(reg, reflection.NewServer(opts))
	return nil
}

// redactURI hides a password written into the Neo4j URI (neo4j://user:secret@host) before the
// URI is logged or put in an error.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "<unparseable Neo4j URI>"
	}
	return u.Redacted()
}
