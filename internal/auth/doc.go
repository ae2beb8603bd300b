// Package auth authenticates cdcstream callers with bearer tokens and authorises them per
// database: interceptors authenticate, and an admission function (server.WithAdmission) authorises.
//
// Tokens come from a JSON file (cdcstreamd --auth-tokens-file):
//
//	[
//	  {"name": "billing-sync", "token": "…at least 16 characters…", "databases": ["neo4j"]},
//	  {"name": "ops",          "token": "…",                          "databases": ["*"]}
//	]
//
// name identifies the token in logs, limits and errors; token is the secret; databases lists
// the databases the token may read, "*" meaning all. Names and tokens must be unique.
//
// A call carries the token in the "authorization" metadata as "Bearer <token>". The
// interceptors (NewInterceptors) only authenticate: a call without a token, or with an unknown
// one, fails with UNAUTHENTICATED (ErrorInfo reason UNAUTHENTICATED); a known token's
// principal is put in the call's context (NameFromContext). They never read request messages.
// Authorisation happens inside the service, on the request it validated: Store.Admission,
// passed to server.WithAdmission, refuses a database the token may not read with
// PERMISSION_DENIED (reason PERMISSION_DENIED, metadata "database") and enforces the per-token
// subscription limit (RESOURCE_EXHAUSTED, reason TOO_MANY_SUBSCRIPTIONS, RetryInfo), so the
// database checked is exactly the one the server reads: the request's, its cursor's, or the
// server's default, lower-cased. The grpc.health.v1 and server reflection services stay open.
// Every status is built by server.Status, so refusals have the service's one status shape.
//
// Tokens are stored only as SHA-256 hashes and compared in constant time over all tokens, so
// neither timing nor length reveals a token. The token itself never appears in logs, errors or
// metrics; the authenticated token's name is put in the call's context (NameFromContext).
//
// Store.Reload re-reads the file (cdcstreamd does it on SIGHUP): new calls see the new tokens
// at once; streams already open keep running with the grants they started with. A file that
// fails to load leaves the previous tokens in force.
package auth
