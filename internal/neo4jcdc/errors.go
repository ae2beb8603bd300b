package neo4jcdc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/cdcstream/cdcstream/server"
)

// This file is the one place where driver errors are classified into the server's sentinel
// errors of server/source.go (docs/architecture.md section 6). GQLSTATUS codes are preferred where
// the server sends them (driver v5.28.4 exposes them as Neo4jError.GqlStatus, with nested
// causes in GqlCause), legacy Neo4j codes are the fallback, and messages are never read,
// except for the one documented pruned-cursor message of servers without GQL codes.

// prunedMessage is what Neo4j 2025 says for a cursor whose transaction was pruned from the
// log when no more specific GQLSTATUS is available (docs/architecture.md section 3).
const prunedMessage = "Unable to find the transaction entry"

// GQLSTATUS codes of CDC errors (docs/architecture.md section 3).
var (
	// gqlExpired: the cursor points before the retained log (timestamp mismatch after a
	// restore 52N27, transaction gone 52N28, before CDC enablement 52N29).
	gqlExpired = []string{"52N27", "52N28", "52N29"}
	// gqlInvalidCursor: malformed (52N26), other database (52N31), bad sequence (52N32).
	gqlInvalidCursor = []string{"52N26", "52N31", "52N32"}
	// gqlFuture: the cursor is ahead of the answering member.
	gqlFuture = []string{"52N30"}
	// gqlDisabled: CDC is off for the database.
	gqlDisabled = []string{"51N68"}
	// gqlSelectorType: a selector of the wrong kind, for example select "r" inside start.
	gqlSelectorType = []string{"51N67"}
	// gqlArgument: an invalid procedure argument list (checked only after its causes had no
	// more specific code).
	gqlArgument = []string{"52N16"}
)

// Legacy Neo4j status codes.
const (
	codeInvalidIdentifier = "Neo.ClientError.ChangeDataCapture.InvalidIdentifier"
	codeFutureIdentifier  = "Neo.TransientError.ChangeDataCapture.FutureIdentifier"
	codeCDCDisabled       = "Neo.DatabaseError.ChangeDataCapture.Disabled"
	codeDatabaseNotFound  = "Neo.ClientError.Database.DatabaseNotFound"
	prefixSecurity        = "Neo.ClientError.Security."
	prefixTransient       = "Neo.TransientError."
)

// argumentCodes are the legacy codes Neo4j uses when it rejects a procedure argument.
var argumentCodes = []string{
	"Neo.ClientError.Procedure.ProcedureCallFailed",
	"Neo.ClientError.Statement.ArgumentError",
	"Neo.ClientError.Statement.TypeError",
}

// classify wraps err with the server sentinel it belongs to, keeping err in the chain
// (errors.As still finds the *neo4j.Neo4jError). Errors of no class, including context
// cancellation by the caller, are returned unchanged. nil stays nil. withSelectors tells
// whether the failed call passed selectors: only then is a rejected procedure argument
// (52N16, ProcedureCallFailed, ArgumentError, TypeError) blamed on them; the cursor is
// checked by its own codes, and a failure of a call without selectors is Neo4j's or ours.
func classify(err error, withSelectors bool) error {
	if err == nil {
		return nil
	}
	if sentinel := sentinelOf(err, withSelectors); sentinel != nil {
		if errors.Is(err, sentinel) {
			return err
		}
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return err
}

// sentinelOf finds the class of err, or nil.
func sentinelOf(err error, withSelectors bool) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's own context ended: not Neo4j's fault, the caller knows why.
		return nil
	}
	// Errors this package already classified (selectors) pass through.
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	if neoErr := lastNeo4jError(err); neoErr != nil {
		if s := neo4jErrorClass(neoErr, withSelectors); s != nil {
			return s
		}
	}
	if isConnectivity(err) {
		return server.ErrNeo4jUnavailable
	}
	return nil
}

// sentinels are every error class a Source may report.
var sentinels = []error{
	server.ErrInvalidCursor, server.ErrCursorExpired, server.ErrFutureCursor,
	server.ErrInvalidSelector, server.ErrCDCDisabled, server.ErrDatabaseNotFound,
	server.ErrNeo4jAuth, server.ErrNeo4jUnavailable,
}

// neo4jErrorClass classifies one server error, GQLSTATUS first (over the whole cause
// chain, most specific class first), legacy code second.
func neo4jErrorClass(e *neo4j.Neo4jError, withSelectors bool) error {
	statuses := gqlStatuses(e)
	switch {
	case hasAny(statuses, gqlExpired):
		return server.ErrCursorExpired
	case hasAny(statuses, gqlFuture):
		return server.ErrFutureCursor
	case hasAny(statuses, gqlInvalidCursor):
		return server.ErrInvalidCursor
	case hasAny(statuses, gqlDisabled):
		return server.ErrCDCDisabled
	}
	for c, n := e, 0; c != nil && n < maxCauseDepth; c, n = c.GqlCause, n+1 {
		switch {
		case c.Code == codeInvalidIdentifier:
			if prunedMessageIn(e) {
				return server.ErrCursorExpired
			}
			return server.ErrInvalidCursor
		case c.Code == codeFutureIdentifier:
			return server.ErrFutureCursor
		case c.Code == codeCDCDisabled:
			return server.ErrCDCDisabled
		case c.Code == codeDatabaseNotFound:
			return server.ErrDatabaseNotFound
		case strings.HasPrefix(c.Code, prefixSecurity):
			return server.ErrNeo4jAuth
		}
	}
	if hasAny(statuses, gqlSelectorType) ||
		withSelectors && (hasAny(statuses, gqlArgument) || hasAny([]string{e.Code}, argumentCodes)) {
		return server.ErrInvalidSelector
	}
	if strings.HasPrefix(e.Code, prefixTransient) || e.IsRetriable() {
		// Still failing after the driver's retries: Neo4j is not serving right now.
		return server.ErrNeo4jUnavailable
	}
	return nil
}

// gqlStatuses lists the GQLSTATUS codes of e and its causes, outermost first, leaving out
// the driver's polyfill "50N42" (unknown error) for servers that send none.
func gqlStatuses(e *neo4j.Neo4jError) []string {
	var out []string
	for c := e; c != nil && len(out) < maxCauseDepth; c = c.GqlCause {
		if c.GqlStatus != "" && c.GqlStatus != "50N42" {
			out = append(out, c.GqlStatus)
		}
	}
	return out
}

// maxCauseDepth bounds walks over error chains, so a cyclic chain cannot loop forever.
const maxCauseDepth = 32

// prunedMessageIn reports whether e or one of its causes carries the pruned-cursor message.
func prunedMessageIn(e *neo4j.Neo4jError) bool {
	for c, n := e, 0; c != nil && n < maxCauseDepth; c, n = c.GqlCause, n+1 {
		if strings.Contains(c.Msg, prunedMessage) {
			return true
		}
	}
	return false
}

// hasAny reports whether any of have is in want.
func hasAny(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// lastNeo4jError finds the Neo4j server error in err's chain. The driver's retry exhaustion
// (*neo4j.TransactionExecutionLimit) and *neo4j.ConnectivityError do not implement Unwrap, so
// their Errors and Inner are followed here; of several attempts the last one counts.
func lastNeo4jError(err error) *neo4j.Neo4jError {
	var found *neo4j.Neo4jError
	walk(err, 0, func(e error) bool {
		if ne, ok := e.(*neo4j.Neo4jError); ok {
			found = ne
			return true
		}
		return false
	})
	return found
}

// isConnectivity reports whether err says Neo4j could not be reached or the driver ran out
// of retries.
func isConnectivity(err error) bool {
	return walk(err, 0, func(e error) bool {
		switch e.(type) {
		case *neo4j.ConnectivityError, *neo4j.TransactionExecutionLimit:
			return true
		}
		return false
	})
}

// walk visits err and everything it wraps, depth first, newest retry attempt first, until
// visit returns true; it reports whether visit did.
func walk(err error, depth int, visit func(error) bool) bool {
	if err == nil || depth > maxCauseDepth {
		return false
	}
	if visit(err) {
		return true
	}
	switch e := err.(type) {
	case *neo4j.TransactionExecutionLimit:
		for i := len(e.Errors) - 1; i >= 0; i-- {
			if walk(e.Errors[i], depth+1, visit) {
				return true
			}
		}
		return false
	case *neo4j.ConnectivityError:
		return walk(e.Inner, depth+1, visit)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if walk(inner, depth+1, visit) {
				return true
			}
		}
		return false
	case interface{ Unwrap() error }:
		return walk(e.Unwrap(), depth+1, visit)
	}
	return false
}
