package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"

	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/server"
)

// errHandlerPanic is what a recovered panic becomes: an error of no known kind, which
// server.Status answers INTERNAL with ErrorInfo reason INTERNAL and no text of the panic.
var errHandlerPanic = errors.New("cdcstreamd: handler panicked")

// recoveryHandler logs a recovered panic with its stack at Error, counts it, and answers the
// call INTERNAL through server.Status; the process and its other calls go on.
func recoveryHandler(logger *slog.Logger, m *metrics.Transport) recovery.RecoveryHandlerFuncContext {
	return func(ctx context.Context, p any) error {
		m.Panic()
		method, _ := grpc.Method(ctx)
		logger.Error("handler panicked; call answered INTERNAL", "method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return server.Status(errHandlerPanic).Err()
	}
}

// recoveryInterceptors recover panics in the interceptors after them and in the handlers, of
// unary calls and of streams (not in goroutines a handler starts: those are the service's).
func recoveryInterceptors(logger *slog.Logger, m *metrics.Transport) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	opt := recovery.WithRecoveryHandlerContext(recoveryHandler(logger, m))
	return recovery.UnaryServerInterceptor(opt), recovery.StreamServerInterceptor(opt)
}
