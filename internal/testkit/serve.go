package testkit

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// config collects what Options set.
type config struct {
	serverOpts []grpc.ServerOption
	dialOpts   []grpc.DialOption
	onServer   []func(*grpc.Server)
	beforeStop []func()
}

// Option configures Serve.
type Option func(*config)

// ServerOptions adds options to the gRPC server (interceptors, credentials, WaitForHandlers).
func ServerOptions(opts ...grpc.ServerOption) Option {
	return func(c *config) { c.serverOpts = append(c.serverOpts, opts...) }
}

// DialOptions adds options to the client connection, after the default insecure transport
// credentials, so transport credentials given here replace them.
func DialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOpts = append(c.dialOpts, opts...) }
}

// OnServer calls f with the gRPC server after registration and before it serves, for the
// few tests that need the concrete *grpc.Server (for example to initialise server metrics).
func OnServer(f func(*grpc.Server)) Option {
	return func(c *config) { c.onServer = append(c.onServer, f) }
}

// BeforeStop calls f when the test ends, after the client connection closed and before the
// server stops: the place for a graceful shutdown of the service (final checkpoints), which
// must not outlive the gRPC server.
func BeforeStop(f func()) Option {
	return func(c *config) { c.beforeStop = append(c.beforeStop, f) }
}

// Serve starts a gRPC server on 127.0.0.1 port 0 with the services register registers, and
// returns a client connection to it and the server's address. When the test ends the
// connection is closed, the server stopped (Stop: open streams end at once) and Serve's
// goroutine has returned; BeforeStop functions run between the two. Resources the server uses
// (a driver, say) are released in a tb.Cleanup registered before Serve: cleanups run last in,
// first out.
func Serve(tb testing.TB, register func(grpc.ServiceRegistrar), opts ...Option) (*grpc.ClientConn, string) {
	tb.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testkit: listen: %v", err)
	}
	gs := grpc.NewServer(c.serverOpts...)
	register(gs)
	for _, f := range c.onServer {
		f(gs)
	}
	served := make(chan struct{}) // closed when Serve returns
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	addr := lis.Addr().String()
	all := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, c.dialOpts...)
	conn, err := grpc.NewClient(addr, all...)
	if err != nil {
		gs.Stop()
		<-served
		tb.Fatalf("testkit: dial %s: %v", addr, err)
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		for _, f := range c.beforeStop {
			f()
		}
		gs.Stop()
		<-served
	})
	return conn, addr
}

// Dial returns a client connection to addr, plaintext unless opts set transport credentials,
// closed when the test ends.
func Dial(tb testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	all := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(addr, all...)
	if err != nil {
		tb.Fatalf("testkit: dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}
