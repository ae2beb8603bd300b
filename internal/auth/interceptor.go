package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/cdcstream/cdcstream/server"
)

// Option configures the interceptors and the admission function.
type Option func(*options)

// options are the settings of NewInterceptors and Admission.
type options struct {
	logger *slog.Logger
	// maxPerToken limits a token's concurrent Subscribe streams; 0 means no limit.
	maxPerToken int
	open        []string
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

// WithMaxSubscriptionsPerToken limits the Subscribe streams one token may hold open at once
// (Admission); beyond it a stream fails with RESOURCE_EXHAUSTED, reason
// TOO_MANY_SUBSCRIPTIONS, exactly like the server's own limit. 0, the default, means no
// limit; a negative value is treated as 0.
func WithMaxSubscriptionsPerToken(n int) Option {
	return func(o *options) { o.maxPerToken = max(n, 0) }
}

func newOptions(opts []Option) options {
	o := options{
		logger: slog.New(slog.DiscardHandler),
		open: []string{
			"/grpc.health.v1.Health/",
			"/grpc.reflection.v1.ServerReflection/",
			"/grpc.reflection.v1alpha.ServerReflection/",
		},
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// Interceptors authenticate calls against a Store: they read the bearer token from the
// call's metadata and put the token's principal in the call's context. They never look at
// request messages; authorisation happens in the service, through Admission.
type Interceptors struct {
	store *Store
	opts  options
}

// NewInterceptors returns the interceptors for store.
func NewInterceptors(store *Store, opts ...Option) *Interceptors {
	return &Interceptors{store: store, opts: newOptions(opts)}
}

// principalKey is the context key of the authenticated token's principal.
type principalKey struct{}

// principal is an authenticated token as it was when the call started: its grants stay
// those of the call's start, whatever a later reload changes.
type principal struct {
	name  string
	entry *entry
}

// NameFromContext returns the name of the token that authenticated the call, if any.
func NameFromContext(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p.name, ok
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

// authenticate returns ctx with the caller's principal, or the UNAUTHENTICATED status.
func (a *Interceptors) authenticate(ctx context.Context, method string) (context.Context, error) {
	token, ok := bearer(ctx)
	if !ok {
		refuse(ctx, a.opts.logger, method, "", "missing bearer token")
		return nil, server.Status(fmt.Errorf("%w: missing bearer token in the authorization metadata", server.ErrUnauthenticated)).Err()
	}
	e, ok := a.store.Tokens().lookup(token)
	if !ok {
		refuse(ctx, a.opts.logger, method, "", "unknown bearer token")
		return nil, server.Status(fmt.Errorf("%w: unknown bearer token", server.ErrUnauthenticated)).Err()
	}
	return context.WithValue(ctx, principalKey{}, principal{name: e.name, entry: e}), nil
}

// refuse logs a refused call without the token.
func refuse(ctx context.Context, logger *slog.Logger, method, name, why string) {
	attrs := []any{"method", method, "reason", why}
	if name != "" {
		attrs = append(attrs, "token_name", name)
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, "peer", p.Addr.String())
	}
	logger.Warn("call refused", attrs...)
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

// UnaryInterceptor authenticates unary calls.
func (a *Interceptors) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.isOpen(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authenticates streams at their start.
func (a *Interceptors) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.isOpen(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := a.authenticate(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &authenticatedStream{ServerStream: ss, ctx: ctx})
	}
}

// authenticatedStream is a stream whose context carries the principal.
type authenticatedStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the principal.
func (s *authenticatedStream) Context() context.Context { return s.ctx }
