package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/grpc"
)

// Server implements cdcstreamv1.ChangeStreamServiceServer on top of a Source. It is safe for
// concurrent use. Create it with New, register it with Register, and call Shutdown before
// stopping the gRPC server.
type Server struct {
	// UnsafeChangeStreamServiceServer opts out of forward compatibility: a method added to the
	// service fails to compile here until it is implemented, so the assertion below can fail.
	cdcstreamv1.UnsafeChangeStreamServiceServer

	src  Source
	opts options
	log  *slog.Logger
	// logs samples the log lines of ended RPCs (finish), per reason.
	logs  *LogSampler
	heads *heads
	// tails is nil when the shared tail is off (WithSharedTail(false)).
	tails  *tails
	budget *budget
	stats  *counters
	obs    Observer

	// mu protects active, shuttingDown and drained's closing.
	mu sync.Mutex
	// active counts open Subscribe streams holding a slot.
	active int
	// shuttingDown is set by Shutdown; new streams are refused from then on.
	shuttingDown bool
	// shutdown is closed by the first Shutdown call; every stream's sender watches it.
	shutdown chan struct{}
	// shutdownCtx is canceled (cause errShuttingDown) with shutdown; it aborts the Source calls
	// that resolve a starting stream's cursor.
	shutdownCtx    context.Context
	cancelShutdown context.CancelCauseFunc
	// snapshots holds one token per subscription taking a snapshot (WithMaxSnapshots).
	snapshots chan struct{}
	// drained is closed once shuttingDown is set and active is zero; Shutdown waits for it.
	drained chan struct{}
}

var _ cdcstreamv1.ChangeStreamServiceServer = (*Server)(nil)

// New returns a Server reading changes from src. It fails when src is nil or an option is
// out of range (each With… documents its range).
func New(src Source, opts ...Option) (*Server, error) {
	if src == nil {
		return nil, errors.New("server: nil Source")
	}
	o := applyOptions(opts)
	if err := o.validate(); err != nil {
		return nil, err
	}
	stats := &counters{}
	s := &Server{
		src:      src,
		opts:     o,
		log:      o.logger,
		logs:     NewLogSampler(o.logger, o.logSampleRate, o.clock),
		stats:    stats,
		obs:      append(observers{stats}, o.observers...),
		shutdown: make(chan struct{}),
		drained:  make(chan struct{}),
	}
	s.snapshots = make(chan struct{}, o.maxSnapshots)
	s.shutdownCtx, s.cancelShutdown = context.WithCancelCause(context.Background())
	s.heads = newHeads(src, &s.opts, s.obs)
	if s.opts.sharedTail {
		s.tails = newTails(src, &s.opts, s.obs, s.heads)
	}
	s.budget = newBudget(s.opts.maxInFlightBytes, s.obs)
	return s, nil
}

// Register registers the service on r (a *grpc.Server).
func (s *Server) Register(r grpc.ServiceRegistrar) {
	cdcstreamv1.RegisterChangeStreamServiceServer(r, s)
}

// Stats returns a snapshot of the server's counters. Safe for concurrent use.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Ready reports whether the server can serve: nil when it is not shutting down and the
// Source reaches Neo4j with the server's credentials (Source.Ping). Health checks use it.
func (s *Server) Ready(ctx context.Context) error {
	s.mu.Lock()
	down := s.shuttingDown
	s.mu.Unlock()
	if down {
		return errShuttingDown
	}
	if err := s.src.Ping(ctx); err != nil {
		return fmt.Errorf("server: source not ready: %w", err)
	}
	return nil
}

// Shutdown stops accepting Subscribe streams (new ones fail with UNAVAILABLE, reason
// SERVER_SHUTTING_DOWN) and ends the open ones: each sends a final Checkpoint with its newest
// cursor and ends with UNAVAILABLE SERVER_SHUTTING_DOWN. Shutdown returns when every stream
// has ended, or ctx's error when ctx ends first (a stream whose client does not read can hold
// its final Send; stopping the gRPC server ends it). GetCursor keeps working. Calling
// Shutdown again waits again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shuttingDown {
		s.shuttingDown = true
		close(s.shutdown)
		s.cancelShutdown(errShuttingDown)
		if s.active == 0 {
			close(s.drained)
		}
	}
	s.mu.Unlock()
	select {
	case <-s.drained:
		s.logs.Flush(ctx)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: shutdown: %w", ctx.Err())
	}
}

// acquireSlot reserves a stream slot, or fails when shutting down or full.
func (s *Server) acquireSlot() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown {
		return errShuttingDown
	}
	if s.active >= s.opts.maxSubscriptions {
		return errServerFull
	}
	s.active++
	return nil
}

// releaseSlot frees a slot taken by acquireSlot.
func (s *Server) releaseSlot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.shuttingDown && s.active == 0 {
		close(s.drained)
	}
}

// GetCursor returns the current or earliest cursor of a database.
func (s *Server) GetCursor(ctx context.Context, req *cdcstreamv1.GetCursorRequest) (*cdcstreamv1.GetCursorResponse, error) {
	database, earliest, err := validateGetCursor(req, &s.opts)
	if err != nil {
		return nil, s.refuse(ctx, "GetCursor", "", err).Err()
	}
	release, err := s.admit(ctx, cdcstreamv1.ChangeStreamService_GetCursor_FullMethodName, database)
	if err != nil {
		return nil, s.refuse(ctx, "GetCursor", database, err).Err()
	}
	defer release()
	id, err := s.position(ctx, database, earliest)
	if err != nil {
		return nil, s.finish(ctx, "GetCursor", database, err).Err()
	}
	return &cdcstreamv1.GetCursorResponse{Cursor: &cdcstreamv1.Cursor{Id: id, Database: database}}, nil
}

// position resolves a named position of database, the head (Source.Current) or the earliest
// retained change (Source.Earliest), for Subscribe and GetCursor alike.
func (s *Server) position(ctx context.Context, database string, earliest bool) (string, error) {
	var id string
	var err error
	if earliest {
		id, err = s.src.Earliest(ctx, database)
	} else {
		id, err = s.src.Current(ctx, database)
	}
	if err == nil && id == "" {
		err = errEmptyID
	}
	return id, err
}

// admit consults the admission function (WithAdmission). The release it returns is never nil.
func (s *Server) admit(ctx context.Context, method, database string) (release func(), err error) {
	if s.opts.admission == nil {
		return func() {}, nil
	}
	release, err = s.opts.admission(ctx, AdmissionRequest{Method: method, Database: database})
	if err != nil {
		return nil, err
	}
	if release == nil {
		release = func() {}
	}
	return release, nil
}
