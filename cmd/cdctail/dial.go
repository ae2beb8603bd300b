package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cdcstream/cdcstream/internal/tlsconfig"
)

// unreachableError reports that no connection to the server could be made (exit 3).
type unreachableError struct {
	address string
	why     string
}

// Error implements error.
func (e unreachableError) Error() string {
	return fmt.Sprintf("server %s unreachable: %s", e.address, e.why)
}

// dial connects to the server as the flags say and waits for the first connection. Errors are
// configuration errors (exit 2) or unreachableError (exit 3).
func dial(ctx context.Context, c *config, stderr io.Writer) (*grpc.ClientConn, error) {
	var opts []grpc.DialOption
	if c.tls {
		var tlsOpts []tlsconfig.ClientOption
		if c.tlsCA != "" {
			tlsOpts = append(tlsOpts, tlsconfig.WithCA(c.tlsCA))
		}
		if c.tlsCert != "" {
			tlsOpts = append(tlsOpts, tlsconfig.WithClientCertificate(c.tlsCert, c.tlsKey))
		}
		if c.tlsServerName != "" {
			tlsOpts = append(tlsOpts, tlsconfig.WithServerName(c.tlsServerName))
		}
		creds, err := tlsconfig.ClientCredentials(tlsOpts...)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if c.tokenFile != "" {
		token, err := readToken(c.tokenFile)
		if err != nil {
			return nil, err
		}
		if !c.tls {
			fmt.Fprintln(stderr, "cdctail: warning: sending the bearer token without TLS")
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken{token: token, requireTLS: c.tls}))
	}
	conn, err := grpc.NewClient(c.address, opts...)
	if err != nil {
		return nil, fmt.Errorf("--address %q: %w", c.address, err)
	}
	if err := awaitReady(ctx, conn, c); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// awaitReady waits until conn is connected; a failed first attempt or the connect timeout
// means the server is unreachable.
func awaitReady(ctx context.Context, conn *grpc.ClientConn, c *config) error {
	ctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	conn.Connect()
	for {
		switch state := conn.GetState(); state {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			why := "connection failed"
			if c.tls {
				why = "connection or TLS handshake failed"
			}
			return unreachableError{address: c.address, why: why}
		default:
			if !conn.WaitForStateChange(ctx, state) {
				return unreachableError{address: c.address, why: fmt.Sprintf("no connection within %v", c.connectTimeout)}
			}
		}
	}
}

// readToken reads a bearer token file: the token, surrounding white space removed.
func readToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" || strings.ContainsAny(token, "\r\n") {
		return "", fmt.Errorf("--token-file %s: want one non-empty line", path)
	}
	return token, nil
}

// bearerToken sends "authorization: Bearer <token>" with every RPC.
type bearerToken struct {
	token      string
	requireTLS bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: with --tls the token is
// never sent over a connection without it.
func (b bearerToken) RequireTransportSecurity() bool { return b.requireTLS }

var _ credentials.PerRPCCredentials = bearerToken{}
