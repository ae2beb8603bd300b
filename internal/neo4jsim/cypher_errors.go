package neo4jsim

import "fmt"

// The errors of the Cypher front end, with their Neo4j status codes and GQLSTATUS values
// (the CDC procedures' errors are in query.go and selectors.go, constraint violations in
// commit.go).

// syntaxError builds the FAILURE for a statement that does not parse.
func syntaxError(format string, args ...any) *Error {
	return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42001",
		Message: fmt.Sprintf(format, args...)}
}

// unsupported is the SyntaxError for valid Cypher outside the subset; it names the construct.
func unsupported(construct string) *Error {
	return syntaxError("%s is not supported: it is outside the Cypher subset of neo4jsim (see the table in internal/neo4jsim/doc.go)", construct)
}

// varNotDefined is 42N62, for a variable used before it is declared.
func varNotDefined(name string) *Error {
	return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42N62",
		Message: fmt.Sprintf("Variable `%s` not defined", name)}
}

// typeMismatch is a TypeError (22G03).
func typeMismatch(format string, args ...any) *Error {
	return &Error{Code: "Neo.ClientError.Statement.TypeError", GQLStatus: "22G03", Message: fmt.Sprintf(format, args...)}
}

// arithmeticError is an ArithmeticError (22012), such as division by zero.
func arithmeticError(msg string) *Error {
	return &Error{Code: "Neo.ClientError.Statement.ArithmeticError", GQLStatus: "22012", Message: msg}
}

// misplacedAggregate is the error for an aggregating function outside the top level of a
// WITH or RETURN item.
func misplacedAggregate(name string) *Error {
	return syntaxError("Invalid use of aggregating function %s(...) in this context: the subset allows aggregation only as a whole WITH or RETURN item", name)
}

// deletedEntity is the error for reading an entity this transaction deleted (25N13).
func deletedEntity(kind, eid string) *Error {
	return &Error{Code: "Neo.ClientError.Statement.EntityNotFound", GQLStatus: "25N13",
		Message: fmt.Sprintf("%s with elementId %s has been deleted in this transaction", kind, eid)}
}

// accessModeError is the failure of a write in a read transaction.
func accessModeError(db string) *Error {
	return &Error{Code: "Neo.ClientError.Statement.AccessMode", GQLStatus: "08N08",
		Message: fmt.Sprintf("Writing in read access mode not allowed. Attempted write to database '%s'", db)}
}
