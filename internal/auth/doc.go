// Package auth authenticates cdcstream callers with bearer tokens and authorises them per
// database, as gRPC interceptors around the service (package server knows nothing of it).
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
// A call carries the token in the "authorization" metadata as "Bearer <token>". A call without
// one, or with an unknown token, fails with UNAUTHENTICATED (ErrorInfo reason UNAUTHENTICATED);
// a known token asking for a database it may not read fails with PERMISSION_DENIED (reason
// PERMISSION_DENIED). The database is the request's database (for Subscribe the from_cursor's
// database when the request names none), an empty one meaning the server's default. For
// streams the check runs on the first request message, before the handler sees it. The
// grpc.health.v1 and server reflection services stay open.
//
// Tokens are stored only as SHA-256 hashes and compared in constant time over all tokens, so
// neither timing nor length reveals a token. The token itself never appears in logs, errors or
// metrics; the authenticated token's name is put in the call's context (NameFromContext).
//
// Store.Reload re-reads the file (cdcstreamd does it on SIGHUP, see Store.ReloadOn): new calls
// see the new tokens at once; streams already open keep running. A file that fails to load
// leaves the previous tokens in force.
package auth
