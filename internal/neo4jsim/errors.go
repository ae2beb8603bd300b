package neo4jsim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// The simulator's error vocabulary: the Error type every layer returns, the errors the Bolt
// layer sends itself, the GQLSTATUS and classification rendering of a FAILURE, and how a
// vanished peer is recognised. Errors of the CDC procedures and of the statement layer are
// built where they are detected, always as *Error.

// Error is a Neo4j server error as sent in a Bolt FAILURE: a legacy status code such as
// "Neo.ClientError.ChangeDataCapture.InvalidIdentifier", a GQLSTATUS code such as "52N26", and
// a message.
type Error struct {
	// Code is the legacy Neo4j status code.
	Code string
	// GQLStatus is the GQLSTATUS code; empty where Neo4j documents none.
	GQLStatus string
	// Message is the human-readable description.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.GQLStatus != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.GQLStatus, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// errUnauthorized answers wrong credentials (HELLO on Bolt 5.0, LOGON on 5.1+).
func errUnauthorized() *Error {
	return &Error{Code: "Neo.ClientError.Security.Unauthorized", GQLStatus: "42NFF",
		Message: "The client is unauthorized due to authentication failure."}
}

// errDatabaseNotFound answers ROUTE, BEGIN or an auto-commit RUN for an unknown database.
func errDatabaseNotFound(name string) *Error {
	return &Error{Code: "Neo.ClientError.Database.DatabaseNotFound", GQLStatus: "22N51",
		Message: fmt.Sprintf("Database does not exist. Database name: '%s'.", name)}
}

// errImpersonation answers an imp_user that does not exist or that the user may not assume.
func errImpersonation(user string) *Error {
	return &Error{Code: "Neo.ClientError.Security.Forbidden", GQLStatus: "42NFF",
		Message: fmt.Sprintf("Impersonation of user '%s' failed.", user)}
}

// errProtocol is a Bolt protocol violation; the connection closes after it.
func errProtocol(msg string) *Error {
	return &Error{Code: "Neo.ClientError.Request.Invalid", GQLStatus: "08N06", Message: msg}
}

// gqlStatusOf returns the error's GQLSTATUS, defaulting to 50N42 (general processing
// exception), the value the driver itself fills in when a server sends none.
func gqlStatusOf(e *Error) string {
	if e.GQLStatus != "" {
		return e.GQLStatus
	}
	return "50N42"
}

// gqlDescription renders the GQL status description: "error: <condition>. <message>".
func gqlDescription(e *Error) string {
	return "error: " + gqlCondition(gqlStatusOf(e)) + ". " + e.Message
}

// gqlCondition names the condition of a GQLSTATUS for the description.
func gqlCondition(status string) string {
	switch status {
	case "22N51":
		return "data exception - database does not exist"
	case "42NFF":
		return "syntax error or access rule violation - permission/access denied"
	case "42001":
		return "syntax error or access rule violation - invalid syntax"
	case "08N06":
		return "connection exception - protocol error"
	}
	if len(status) < 2 {
		return "general processing exception"
	}
	switch status[:2] {
	case "08":
		return "connection exception"
	case "22":
		return "data exception"
	case "42":
		return "syntax error or access rule violation"
	case "51", "52":
		return "procedure exception"
	}
	return "general processing exception"
}

// classification derives the diagnostic record's _classification from the Neo4j code.
func classification(code string) string {
	switch {
	case strings.HasPrefix(code, "Neo.TransientError."):
		return "TRANSIENT_ERROR"
	case strings.HasPrefix(code, "Neo.DatabaseError."):
		return "DATABASE_ERROR"
	default:
		return "CLIENT_ERROR"
	}
}

// isClosedErr reports the ordinary ways a peer goes away: end of input, a closed socket, or a
// reset or broken connection (matched as errors, not by message text).
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}
