package tlsconfig

import (
	"crypto/tls"
	"errors"
	"fmt"

	"google.golang.org/grpc/credentials"
)

// ClientOption configures Client.
type ClientOption func(*clientOptions)

// clientOptions are the settings of Client.
type clientOptions struct {
	caFile            string
	certFile, keyFile string
	serverName        string
}

// WithCA makes the client trust only the CAs in the PEM file instead of the system roots.
func WithCA(file string) ClientOption {
	return func(o *clientOptions) { o.caFile = file }
}

// WithClientCertificate presents this certificate and key (PEM files) to servers that require
// mutual TLS.
func WithClientCertificate(certFile, keyFile string) ClientOption {
	return func(o *clientOptions) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithServerName verifies the server's certificate against name instead of the dialled host.
func WithServerName(name string) ClientOption {
	return func(o *clientOptions) { o.serverName = name }
}

// Client returns a client tls.Config with the package's policy (TLS 1.2 at least).
func Client(opts ...ClientOption) (*tls.Config, error) {
	var o clientOptions
	for _, opt := range opts {
		opt(&o)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
		ServerName:   o.serverName,
	}
	if o.caFile != "" {
		pool, err := loadPool(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("tls: CA: %w", err)
		}
		c.RootCAs = pool
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, errors.New("tls: a client certificate needs both a certificate file and a key file")
	}
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: loading client certificate %s and key %s: %w", o.certFile, o.keyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// ClientCredentials is Client as gRPC transport credentials for grpc.WithTransportCredentials.
func ClientCredentials(opts ...ClientOption) (credentials.TransportCredentials, error) {
	c, err := Client(opts...)
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(c), nil
}
