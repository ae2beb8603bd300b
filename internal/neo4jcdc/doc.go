// Package neo4jcdc implements server.Source with the Neo4j Go driver (v5). It is the only
// package of cdcstream that imports the driver.
//
// # Contract
//
// One Poll is one managed transaction on the requested database (a read transaction routed
// to readers; with WithAccessMode(AccessWrite) a write transaction on the leader) running, in
// this order and verbatim:
//
//	CALL db.cdc.current()
//	CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event RETURN id, txId, seq, metadata, event LIMIT $limit
//
// so that current and query are answered by the same member (docs/architecture.md, section
// 4). The Batch holds the rows in the order Neo4j returned them (commit order) and the current id.
// Current and Earliest run db.cdc.current() / db.cdc.earliest() in their own transaction.
// The driver retries transient failures within its MaxTransactionRetryTime.
//
// Conversion: every row becomes a *cdcstreamv1.ChangeEvent in one place (convert.go), every
// driver value a cdcstreamv1.Value without loss (values.go): integers stay int64, DATE,
// LOCAL TIME, ZONED TIME, LOCAL DATETIME, ZONED DATETIME (offset or zone id, as Neo4j sent
// it), DURATION and POINT keep their own cases. The 11 documented metadata keys fill the
// Metadata fields; any other key, and a capture mode other than DIFF/FULL, is kept in
// additional_entries. Node keys are read in the Neo4j 5.15+ shape {label: [map, ...]} and the
// older {label: map}; relationship keys as `keys` (list) or the older `key` (map). A null
// before/after state is an absent NodeState/RelationshipState. A row that does not fit this
// schema, or a value of a type the driver should not produce, is an error that wraps no
// sentinel (the server reports it as INTERNAL); nothing panics on bad input.
//
// Selectors become Neo4j's selector maps (selectors.go) with unset fields omitted; typed
// values in key and tx_metadata become the driver's parameter types (int64, neo4j.Date,
// time.Time in a fixed "Offset" zone or an IANA location, ...), so Neo4j compares them with
// the types the client meant.
//
// Snapshots (snapshot.go, snapshot_match.go): the Source is a server.Snapshotter. One
// ReadSnapshot is one read transaction that lists the key constraints (SHOW KEY CONSTRAINTS)
// and reads one chunk, in element id order after a bound with LIMIT, or by element ids; the
// statements are printed verbatim in docs/operations.md section 3a. Records get their keys
// from the constraints, and the selectors are applied to the states here, as a create of the
// entity would match them.
//
// Errors (errors.go) wrap exactly one of the server.Err* sentinels where one applies,
// decided by GQLSTATUS codes over the whole cause chain where the server sends them, by
// legacy Neo4j status codes otherwise; the only message match is Neo4j's documented pruned
// cursor message ("Unable to find the transaction entry") for servers without GQL codes.
// The caller's own context cancellation is returned as such.
//
// Known driver limit: the driver hydrates LOCAL DATETIME and LOCAL TIME into time.Local; on a
// machine whose local zone has daylight saving time a LOCAL DATETIME inside a DST gap is
// normalised by the time package before this package sees it. cmd/cdcstreamd therefore pins
// its local zone to a fixed UTC zone at start-up (tested under TZ=Europe/Stockholm in
// internal/e2e); another program embedding this package must do the same, or run with TZ=UTC.
package neo4jcdc

// time/tzdata embeds the IANA time-zone database, so ZONED DATETIME values with a zone id
// hydrate (time.LoadLocation in the driver) and selector zone ids resolve even in minimal
// container images that ship no /usr/share/zoneinfo.
import _ "time/tzdata"
