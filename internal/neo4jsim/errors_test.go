package neo4jsim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestIsClosedErrMatchesErrorsNotText(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("bolt: reading handshake: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{errors.New("read tcp: connection reset by peer"), false}, // text alone is not a reset
		{errors.New("connection defunct"), false},
		{errNoVersion, false},
	} {
		if got := isClosedErr(c.err); got != c.want {
			t.Errorf("isClosedErr(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestErrorConstructorsCarryNeo4jCodes(t *testing.T) {
	for _, c := range []struct {
		err        *Error
		code, gql  string
		classified string
	}{
		{errUnauthorized(), "Neo.ClientError.Security.Unauthorized", "42NFF", "CLIENT_ERROR"},
		{errDatabaseNotFound("x"), "Neo.ClientError.Database.DatabaseNotFound", "22N51", "CLIENT_ERROR"},
		{errImpersonation("bob"), "Neo.ClientError.Security.Forbidden", "42NFF", "CLIENT_ERROR"},
		{errProtocol("bad"), "Neo.ClientError.Request.Invalid", "08N06", "CLIENT_ERROR"},
		{fractionError("", "", "neo4j"), DefaultFaultCode, "50N42", "TRANSIENT_ERROR"},
	} {
		if c.err.Code != c.code || gqlStatusOf(c.err) != c.gql || classification(c.err.Code) != c.classified {
			t.Errorf("%v: want %s %s %s", c.err, c.code, c.gql, c.classified)
		}
	}
	if e := fractionError("", "", "neo4j"); e.Message != "Database 'neo4j' is unavailable." {
		t.Errorf("default fraction message %q", e.Message)
	}
}
