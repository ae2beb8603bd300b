package neo4jsim

// The simulator's value model. A property or map value is one of:
// nil, bool, int64, float64, string, []byte, []any, map[string]any, Date, LocalTime, Time,
// LocalDateTime, DateTime, Duration, Point2D, Point3D.
// Each temporal and spatial type maps one to one onto its Bolt 5 PackStream structure, so
// the Bolt layer encodes it without conversion.

// Date is a Neo4j DATE: days since 1970-01-01 (PackStream struct 0x44).
type Date struct {
	// EpochDays is the number of days since the Unix epoch; negative before it.
	EpochDays int64
}

// LocalTime is a Neo4j LOCAL TIME: nanoseconds since midnight (struct 0x74).
type LocalTime struct {
	// NanosOfDay is in [0, 86_400e9).
	NanosOfDay int64
}

// Time is a Neo4j ZONED TIME: local nanoseconds since midnight and a UTC offset (struct 0x54).
type Time struct {
	// NanosOfDay is the local time of day in nanoseconds.
	NanosOfDay int64
	// OffsetSeconds is the offset from UTC.
	OffsetSeconds int64
}

// LocalDateTime is a Neo4j LOCAL DATETIME: seconds and nanoseconds since the epoch, read as
// if the wall clock were UTC (struct 0x64).
type LocalDateTime struct {
	// EpochSeconds counts wall-clock seconds since 1970-01-01T00:00:00.
	EpochSeconds int64
	// Nanos is in [0, 1e9).
	Nanos int64
}

// DateTime is a Neo4j ZONED DATETIME: a UTC instant with either a fixed offset (struct 0x49)
// or a zone id (struct 0x69). Bolt 5 semantics: EpochSeconds is UTC, never local.
type DateTime struct {
	// EpochSeconds is the instant's seconds since the epoch, in UTC.
	EpochSeconds int64
	// Nanos is in [0, 1e9).
	Nanos int64
	// OffsetSeconds is the offset from UTC; meaningful when ZoneID is empty.
	OffsetSeconds int64
	// ZoneID is an IANA zone id such as "Europe/Stockholm"; empty for the offset form.
	ZoneID string
}

// Duration is a Neo4j DURATION (struct 0x45).
type Duration struct {
	// Months, Days, Seconds and Nanos are kept apart, as Neo4j keeps them.
	Months, Days, Seconds, Nanos int64
}

// Point2D is a Neo4j 2D POINT (struct 0x58).
type Point2D struct {
	// SRID is 7203 (Cartesian) or 4326 (WGS-84).
	SRID int64
	// X and Y are the coordinates.
	X, Y float64
}

// Point3D is a Neo4j 3D POINT (struct 0x59).
type Point3D struct {
	// SRID is 9157 (Cartesian 3D) or 4979 (WGS-84 3D).
	SRID int64
	// X, Y and Z are the coordinates.
	X, Y, Z float64
}
