package limits

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/rpcstatus"
)

// RetryAfterTooMany is the RetryInfo delay advised with TOO_MANY_SUBSCRIPTIONS.
const RetryAfterTooMany = 5 * time.Second

// subscribeMethod is the only method the interceptor acts on.
var subscribeMethod = cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName

// Option configures a Limiter.
type Option func(*options)

// options are a Limiter's settings.
type options struct {
	maxPerPrincipal int
	maxAge          time.Duration
	principal       func(context.Context) (string, bool)
	now             func() time.Time
	logger          *slog.Logger
}

// WithMaxPerPrincipal limits the Subscribe streams open at once per principal (token name).
// 0, the default, means no limit. Calls without a principal are not limited by it.
func WithMaxPerPrincipal(n int) Option {
	return func(o *options) { o.maxPerPrincipal = n }
}

// WithMaxStreamAge rotates Subscribe streams after about d (±10 %). 0, the default, means
// streams never rotate.
func WithMaxStreamAge(d time.Duration) Option {
	return func(o *options) { o.maxAge = d }
}

// WithPrincipal sets how a call's principal is found (cdcstreamd passes
// auth.NameFromContext). Default: no principal, so no per-principal limit.
func WithPrincipal(f func(context.Context) (string, bool)) Option {
	return func(o *options) { o.principal = f }
}

// WithNow sets the clock used for the final checkpoint's server_time. Default time.Now.
func WithNow(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithLogger logs refusals and rotations at Debug. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// Limiter is the stream interceptor's state. It is safe for concurrent use.
type Limiter struct {
	opts options
	// mu guards open.
	mu sync.Mutex
	// open counts the open Subscribe streams per principal (entries at 0 are deleted).
	open map[string]int
}

// New returns a Limiter. A negative limit or age is treated as 0 (off).
func New(opts ...Option) *Limiter {
	o := options{
		principal: func(context.Context) (string, bool) { return "", false },
		now:       time.Now,
		logger:    slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.maxPerPrincipal = max(o.maxPerPrincipal, 0)
	o.maxAge = max(o.maxAge, 0)
	return &Limiter{opts: o, open: map[string]int{}}
}

// Open returns the number of open Subscribe streams of principal.
func (l *Limiter) Open(principal string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[principal]
}

// acquire takes a slot for principal, or fails with the RESOURCE_EXHAUSTED status.
func (l *Limiter) acquire(principal string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[principal] >= l.opts.maxPerPrincipal {
		return rpcstatus.RetryError(codes.ResourceExhausted, "too many concurrent subscriptions for token "+principal,
			rpcstatus.ReasonTooManySubscriptions, nil, RetryAfterTooMany)
	}
	l.open[principal]++
	return nil
}

func (l *Limiter) release(principal string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[principal]--; l.open[principal] <= 0 {
		delete(l.open, principal)
	}
}

// jittered returns d ±10 %.
func jittered(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// StreamInterceptor returns the interceptor.
func (l *Limiter) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if info.FullMethod != subscribeMethod {
			return handler(srv, ss)
		}
		if l.opts.maxPerPrincipal > 0 {
			if name, ok := l.opts.principal(ss.Context()); ok {
				if err := l.acquire(name); err != nil {
					l.opts.logger.Debug("subscription refused", "token_name", name, "limit", l.opts.maxPerPrincipal)
					return err
				}
				defer l.release(name)
			}
		}
		if l.opts.maxAge == 0 {
			return handler(srv, ss)
		}
		return l.rotating(srv, ss, handler)
	}
}

// rotating runs handler and rotates the stream once it reaches its maximum age.
func (l *Limiter) rotating(srv any, ss grpc.ServerStream, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	ts := &trackingStream{ServerStream: ss, ctx: ctx}
	// rotate is closed by the timer when the stream reached its age.
	rotate := make(chan struct{})
	timer := time.AfterFunc(jittered(l.opts.maxAge), func() {
		close(rotate)
		cancel()
	})
	err := handler(srv, ts)
	if timer.Stop() {
		return err // ended before its age
	}
	<-rotate
	if ss.Context().Err() != nil {
		return err // the client went away meanwhile
	}
	if err != nil && status.Code(err) != codes.Canceled && !errors.Is(err, context.Canceled) {
		return err // the handler ended for a reason of its own
	}
	cursor := ts.newest()
	if cursor != nil {
		final := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{
			Checkpoint: &cdcstreamv1.Checkpoint{Cursor: cursor, ServerTime: timestamppb.New(l.opts.now())}}}
		if err := ss.SendMsg(final); err != nil {
			return err
		}
	}
	l.opts.logger.Debug("stream rotated", "max_age", l.opts.maxAge, "final_checkpoint", cursor != nil)
	return rpcstatus.RetryError(codes.Unavailable, "stream reached its maximum age; resume from the last cursor",
		rpcstatus.ReasonStreamRotated, nil, 0)
}

// trackingStream remembers the newest cursor sent and the request's start cursor, and gives
// the handler a context the interceptor can cancel.
type trackingStream struct {
	grpc.ServerStream
	ctx context.Context
	// mu guards sent and start: SendMsg runs on the handler's sender goroutine while the
	// interceptor reads them after the handler returned.
	mu    sync.Mutex
	sent  *cdcstreamv1.Cursor
	start *cdcstreamv1.Cursor
}

func (s *trackingStream) Context() context.Context { return s.ctx }

func (s *trackingStream) SendMsg(m any) error {
	if err := s.ServerStream.SendMsg(m); err != nil {
		return err
	}
	if resp, ok := m.(*cdcstreamv1.SubscribeResponse); ok {
		var c *cdcstreamv1.Cursor
		switch {
		case resp.GetChange().GetCursor() != nil:
			c = resp.GetChange().GetCursor()
		case resp.GetCheckpoint().GetCursor() != nil:
			c = resp.GetCheckpoint().GetCursor()
		}
		if c.GetId() != "" {
			s.mu.Lock()
			s.sent = &cdcstreamv1.Cursor{Id: c.GetId(), Database: c.GetDatabase()}
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *trackingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if req, ok := m.(*cdcstreamv1.SubscribeRequest); ok && req.GetFromCursor().GetId() != "" {
		s.mu.Lock()
		if s.start == nil {
			c := req.GetFromCursor()
			db := c.GetDatabase()
			if db == "" {
				db = req.GetDatabase()
			}
			s.start = &cdcstreamv1.Cursor{Id: c.GetId(), Database: db}
		}
		s.mu.Unlock()
	}
	return nil
}

// newest is the cursor for the final checkpoint: the newest sent, else the request's start.
func (s *trackingStream) newest() *cdcstreamv1.Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent != nil {
		return s.sent
	}
	return s.start
}
