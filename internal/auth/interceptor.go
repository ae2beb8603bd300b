package auth

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/rpcstatus"
)

// Option configures the interceptors.
type Option func(*options)

// options are the interceptors' settings.
type options struct {
	defaultDatabase string
	logger          *slog.Logger
	open            []string
}

// WithDefaultDatabase names the database that requests naming none (and holding no cursor)
// read; it must match the server's (server.WithDefaultDatabase). Default "neo4j".
func WithDefaultDatabase(name string) Option {
	return func(o *options) { o.defaultDatabase = strings.ToLower(name) }
}

// WithLogger logs refused calls at Warn (token name, method, peer address; never the token).
// Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// Interceptors authenticate calls against a Store.
type Interceptors struct {
	store *Store
	opts  options
}

// NewInterceptors returns the interceptors for store.
func NewInterceptors(store *Store, opts ...Option) *Interceptors {
	o := options{
		defaultDatabase: "neo4j",
		logger:          slog.New(slog.DiscardHandler),
		open: []string{
			"/grpc.health.v1.Health/",
			"/grpc.reflection.v1.ServerReflection/",
			"/grpc.reflection.v1alpha.ServerReflection/",
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &Interceptors{store: store, opts: o}
}

// nameKey is the context key of the authenticated token's name.
type nameKey struct{}

// NameFromContext returns the name of the token that authenticated the call, if any.
func NameFromContext(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(nameKey{}).(string)
	return name, ok
}

// ContextWithName returns ctx carrying an authenticated token name (for tests of layers that
// read it).
func ContextWithName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, nameKey{}, name)
}

// isOpen reports whether method needs no token.
func (a *Interceptors) isOpen(method string) bool {
	for _, prefix := range a.opts.open {
		if strings.HasPrefix(method, prefix) {
			return true
		}
	}
	return false
}

// authenticate finds the caller's token; it returns the UNAUTHENTICATED status otherwise.
func (a *Interceptors) authenticate(ctx context.Context, method string) (*entry, error) {
	token, ok := bearer(ctx)
	if !ok {
		a.refuse(ctx, method, "", "missing bearer token")
		return nil, rpcstatus.Error(codes.Unauthenticated, "missing bearer token in the authorization metadata", rpcstatus.ReasonUnauthenticated, nil)
	}
	e, ok := a.store.Tokens().lookup(token)
	if !ok {
		a.refuse(ctx, method, "", "unknown bearer token")
		return nil, rpcstatus.Error(codes.Unauthenticated, "unknown bearer token", rpcstatus.ReasonUnauthenticated, nil)
	}
	return e, nil
}

// authorize checks that e may read the database a request asks for.
func (a *Interceptors) authorize(ctx context.Context, method string, e *entry, req any) error {
	db, ok := requestDatabase(req)
	if !ok {
		return nil
	}
	if db == "" {
		db = a.opts.defaultDatabase
	}
	db = strings.ToLower(db)
	if e.allows(db) {
		return nil
	}
	a.refuse(ctx, method, e.name, "database not granted")
	return rpcstatus.Error(codes.PermissionDenied, "token "+e.name+" may not read database "+db,
		rpcstatus.ReasonPermissionDenied, map[string]string{"database": db})
}

// refuse logs a refused call without the token.
func (a *Interceptors) refuse(ctx context.Context, method, name, why string) {
	attrs := []any{"method", method, "reason", why}
	if name != "" {
		attrs = append(attrs, "token_name", name)
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, "peer", p.Addr.String())
	}
	a.opts.logger.Warn("call refused", attrs...)
}

// bearer extracts the token from the "authorization: Bearer <token>" metadata.
func bearer(ctx context.Context) (string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", false
	}
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// requestDatabase returns the database a cdcstream request reads ("" for the default), and
// false for messages that name none.
func requestDatabase(req any) (string, bool) {
	switch r := req.(type) {
	case *cdcstreamv1.SubscribeRequest:
		if r.GetDatabase() != "" {
			return r.GetDatabase(), true
		}
		return r.GetFromCursor().GetDatabase(), true
	case *cdcstreamv1.GetCursorRequest:
		return r.GetDatabase(), true
	default:
		return "", false
	}
}

// UnaryInterceptor authenticates and authorises unary calls.
func (a *Interceptors) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.isOpen(info.FullMethod) {
			return handler(ctx, req)
		}
		e, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if err := a.authorize(ctx, info.FullMethod, e, req); err != nil {
			return nil, err
		}
		return handler(context.WithValue(ctx, nameKey{}, e.name), req)
	}
}

// StreamInterceptor authenticates streams at their start and authorises their first request
// message before the handler sees it.
func (a *Interceptors) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.isOpen(info.FullMethod) {
			return handler(srv, ss)
		}
		e, err := a.authenticate(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &authorizedStream{
			ServerStream: ss,
			ctx:          context.WithValue(ss.Context(), nameKey{}, e.name),
			check:        func(m any) error { return a.authorize(ss.Context(), info.FullMethod, e, m) },
		})
	}
}

// authorizedStream checks the first received message. RecvMsg is called by one goroutine at a
// time (gRPC's rule), so checked needs no lock.
type authorizedStream struct {
	grpc.ServerStream
	ctx     context.Context
	check   func(any) error
	checked bool
}

func (s *authorizedStream) Context() context.Context { return s.ctx }

func (s *authorizedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if !s.checked {
		s.checked = true
		return s.check(m)
	}
	return nil
}
