// Package servertest provides test doubles for package server and its users: FakeSource, a
// scriptable in-memory server.Source that records its calls, and ManualClock, a server.Clock
// that only moves when told to. Both are safe for concurrent use. They start no goroutines.
//
// FakeSource keeps, per database, a log of positions 1..head; a position holds a change or is
// a gap (a transaction no selector matches, see Skip). Change ids are base64url encodings of
// "database/position" (see ID), so they look like Neo4j's opaque ids and encode their
// database. Selectors are recorded but not evaluated: use Skip to model non-matching changes.
package servertest
