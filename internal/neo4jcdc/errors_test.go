package neo4jcdc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/cdcstream/cdcstream/server"
)

// neoErr builds a server error as the driver hydrates a Bolt FAILURE (GQL fields as Bolt 5.7+
// sends them; the driver fills GqlStatus "50N42" when the server sent none).
func neoErr(code, gql, msg string, cause *neo4j.Neo4jError) *neo4j.Neo4jError {
	if gql == "" {
		gql = "50N42"
	}
	return &neo4j.Neo4jError{Code: code, GqlStatus: gql, Msg: msg, GqlCause: cause}
}

func TestClassify(t *testing.T) {
	invalidID := "Neo.ClientError.ChangeDataCapture.InvalidIdentifier"
	cases := []struct {
		name string
		err  error
		want error // nil: returned unchanged
	}{
		{"pruned, 2025 message without GQL", neoErr(invalidID, "", "Unable to find the transaction entry for the given change identifier", nil), server.ErrCursorExpired},
		{"pruned, 52N28", neoErr(invalidID, "52N28", "x", nil), server.ErrCursorExpired},
		{"restored, 52N27", neoErr(invalidID, "52N27", "x", nil), server.ErrCursorExpired},
		{"before enablement, 52N29 nested in 52N16", neoErr("Neo.ClientError.Procedure.ProcedureCallFailed", "52N16", "x",
			neoErr(invalidID, "52N29", "outdated", nil)), server.ErrCursorExpired},
		{"pruned message in cause", neoErr(invalidID, "", "wrapper",
			neoErr(invalidID, "", "Unable to find the transaction entry", nil)), server.ErrCursorExpired},
		{"malformed, 52N26", neoErr(invalidID, "52N26", "'x' is not a valid change identifier", nil), server.ErrInvalidCursor},
		{"other database, 52N31", neoErr(invalidID, "52N31", "x", nil), server.ErrInvalidCursor},
		{"bad sequence, 52N32", neoErr(invalidID, "52N32", "x", nil), server.ErrInvalidCursor},
		{"invalid identifier, legacy only", neoErr(invalidID, "", "Invalid change identifier", nil), server.ErrInvalidCursor},
		{"GQL code wins over pruned message", neoErr(invalidID, "52N26", "Unable to find the transaction entry", nil), server.ErrInvalidCursor},
		{"future, legacy", neoErr("Neo.TransientError.ChangeDataCapture.FutureIdentifier", "", "x", nil), server.ErrFutureCursor},
		{"future, 52N30", neoErr("Neo.TransientError.ChangeDataCapture.FutureIdentifier", "52N30", "x", nil), server.ErrFutureCursor},
		{"future after retries", &neo4j.TransactionExecutionLimit{Cause: "timeout", Errors: []error{
			neoErr("Neo.TransientError.ChangeDataCapture.FutureIdentifier", "52N30", "x", nil),
			neoErr("Neo.TransientError.ChangeDataCapture.FutureIdentifier", "52N30", "x", nil)}}, server.ErrFutureCursor},
		{"disabled, legacy", neoErr("Neo.DatabaseError.ChangeDataCapture.Disabled", "", "x", nil), server.ErrCDCDisabled},
		{"disabled, 51N68", neoErr("Neo.DatabaseError.General.UnknownError", "51N68", "x", nil), server.ErrCDCDisabled},
		{"database not found", neoErr("Neo.ClientError.Database.DatabaseNotFound", "", "x", nil), server.ErrDatabaseNotFound},
		{"unauthorized", neoErr("Neo.ClientError.Security.Unauthorized", "42NFF", "x", nil), server.ErrNeo4jAuth},
		{"forbidden", neoErr("Neo.ClientError.Security.Forbidden", "", "x", nil), server.ErrNeo4jAuth},
		{"rate limit", neoErr("Neo.ClientError.Security.AuthenticationRateLimit", "", "x", nil), server.ErrNeo4jAuth},
		{"auth as driver wraps it", &neo4j.TokenExpiredError{Code: "Neo.ClientError.Security.TokenExpired"}, nil},
		{"selector type, 51N67", neoErr("Neo.ClientError.Statement.ArgumentError", "51N67", "x", nil), server.ErrInvalidSelector},
		{"procedure argument list, 52N16", neoErr("Neo.ClientError.Procedure.ProcedureCallFailed", "52N16", "x", nil), server.ErrInvalidSelector},
		{"procedure call failed, legacy", neoErr("Neo.ClientError.Procedure.ProcedureCallFailed", "", "x", nil), server.ErrInvalidSelector},
		{"type error, legacy", neoErr("Neo.ClientError.Statement.TypeError", "", "x", nil), server.ErrInvalidSelector},
		{"transient", neoErr("Neo.TransientError.General.DatabaseUnavailable", "", "x", nil), server.ErrNeo4jUnavailable},
		{"not a leader", neoErr("Neo.ClientError.Cluster.NotALeader", "", "x", nil), server.ErrNeo4jUnavailable},
		{"transient after retries", &neo4j.TransactionExecutionLimit{Cause: "timeout", Errors: []error{
			neoErr("Neo.TransientError.Transaction.DeadlockDetected", "", "x", nil)}}, server.ErrNeo4jUnavailable},
		{"connectivity", &neo4j.ConnectivityError{Inner: &net.OpError{Op: "dial", Err: errTest}}, server.ErrNeo4jUnavailable},
		{"connectivity eof", &neo4j.ConnectivityError{Inner: io.EOF}, server.ErrNeo4jUnavailable},
		{"dead connections after retries", &neo4j.TransactionExecutionLimit{Cause: "too many failed connection attempts", Errors: []error{
			&neo4j.ConnectivityError{Inner: io.EOF}}}, server.ErrNeo4jUnavailable},
		{"wrapped by fmt", fmt.Errorf("ctx: %w", neoErr("Neo.DatabaseError.ChangeDataCapture.Disabled", "", "x", nil)), server.ErrCDCDisabled},
		{"already classified", fmt.Errorf("%w: bad", server.ErrInvalidSelector), server.ErrInvalidSelector},
		{"syntax error is ours", neoErr("Neo.ClientError.Statement.SyntaxError", "42001", "x", nil), nil},
		{"scan failure is not classified", neoErr("Neo.DatabaseError.ChangeDataCapture.ScanFailure", "", "x", nil), nil},
		{"usage error", &neo4j.UsageError{Message: "Trying to create session on closed driver"}, nil},
		{"canceled", context.Canceled, nil},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), nil},
		{"plain", errTest, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err, true)
			if !errors.Is(got, tc.err) && got != tc.err {
				t.Fatalf("classify(%v) = %v, lost the original error", tc.err, got)
			}
			for _, s := range sentinels {
				if is, want := errors.Is(got, s), s == tc.want; is != want {
					t.Errorf("classify(%v) = %v: errors.Is(%v) = %v, want %v", tc.err, got, s, is, want)
				}
			}
			if tc.want == nil && got != tc.err {
				t.Errorf("classify(%v) = %v, want it unchanged", tc.err, got)
			}
			var ne *neo4j.Neo4jError
			if errors.As(tc.err, &ne) && !errors.As(got, &ne) {
				t.Errorf("classify(%v) hides the *Neo4jError", tc.err)
			}
		})
	}
	if classify(nil, true) != nil {
		t.Fatal("classify(nil) != nil")
	}
}

// TestClassifyWithoutSelectors: a rejected procedure argument is blamed on the selectors only
// when the call passed some.
func TestClassifyWithoutSelectors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"argument list", neoErr("Neo.ClientError.Procedure.ProcedureCallFailed", "52N16", "x", nil), nil},
		{"procedure call failed", neoErr("Neo.ClientError.Procedure.ProcedureCallFailed", "", "x", nil), nil},
		{"type error", neoErr("Neo.ClientError.Statement.TypeError", "22G03", "x", nil), nil},
		{"selector type is still a selector error", neoErr("Neo.ClientError.Statement.ArgumentError", "51N67", "x", nil), server.ErrInvalidSelector},
		{"pruned", neoErr("Neo.ClientError.ChangeDataCapture.InvalidIdentifier", "52N28", "x", nil), server.ErrCursorExpired},
	}
	for _, tc := range cases {
		got := classify(tc.err, false)
		for _, s := range sentinels {
			if is, want := errors.Is(got, s), s == tc.want; is != want {
				t.Errorf("%s: classify = %v: errors.Is(%v) = %v, want %v", tc.name, got, s, is, want)
			}
		}
	}
}

// FuzzClassify: any server error, with any cause chain, retry wrapping or fmt wrapping, is
// classified without panicking into at most one class, keeps the original error, and the
// documented codes always win.
func FuzzClassify(f *testing.F) {
	f.Add("Neo.ClientError.ChangeDataCapture.InvalidIdentifier", "", "Unable to find the transaction entry", "", "", uint8(0))
	f.Add("Neo.ClientError.ChangeDataCapture.InvalidIdentifier", "52N26", "x", "52N29", "y", uint8(1))
	f.Add("Neo.TransientError.ChangeDataCapture.FutureIdentifier", "52N30", "x", "", "", uint8(2))
	f.Add("Neo.DatabaseError.ChangeDataCapture.Disabled", "51N68", "", "", "", uint8(3))
	f.Add("Neo.ClientError.Security.Unauthorized", "42NFF", "", "", "", uint8(0))
	f.Add("Neo.ClientError.Procedure.ProcedureCallFailed", "52N16", "", "51N67", "", uint8(1))
	f.Add("Neo.TransientError.Transaction.Terminated", "", "", "", "", uint8(2))
	f.Add("", "", "", "", "", uint8(3))
	f.Add("Neo", "5", "Unable", "52N2", "Unable to find the transaction entry", uint8(4))
	f.Fuzz(func(t *testing.T, code, gql, msg, causeGQL, causeMsg string, wrap uint8) {
		var cause *neo4j.Neo4jError
		if causeGQL != "" || causeMsg != "" {
			cause = &neo4j.Neo4jError{Code: code, GqlStatus: causeGQL, Msg: causeMsg}
		}
		ne := &neo4j.Neo4jError{Code: code, GqlStatus: gql, Msg: msg, GqlCause: cause}
		var err error = ne
		switch wrap % 5 {
		case 1:
			err = &neo4j.TransactionExecutionLimit{Cause: "x", Errors: []error{io.EOF, ne}}
		case 2:
			err = fmt.Errorf("wrapped: %w", ne)
		case 3:
			err = &neo4j.ConnectivityError{Inner: ne}
		case 4:
			err = errors.Join(errTest, ne)
		}
		got := classify(err, wrap&8 != 0)
		if got == nil {
			t.Fatal("classify returned nil for an error")
		}
		if got != err && !errors.Is(got, err) {
			t.Fatalf("classify(%v) = %v, lost the original", err, got)
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(got, s) {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("classify(%v) = %v matches %d classes", err, got, n)
		}
		if gql == "51N68" && !errors.Is(got, server.ErrCDCDisabled) {
			t.Fatalf("51N68 classified as %v", got)
		}
		if (gql == "52N28" || causeGQL == "52N28") && !errors.Is(got, server.ErrCursorExpired) {
			t.Fatalf("52N28 classified as %v", got)
		}
		if wrap%5 == 3 && n == 0 {
			t.Fatalf("a ConnectivityError was not classified: %v", got)
		}
	})
}
