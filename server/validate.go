package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
)

// Validation limits.
const (
	// maxViolations caps the field violations reported for one request.
	maxViolations = 20
	// maxCursorIDLen bounds a cursor id; Neo4j's ids are well under 100 characters.
	maxCursorIDLen = 1024
	// maxValueDepth bounds the nesting of list and map values in selectors.
	maxValueDepth = 32
	// maxNameLen bounds a label, type, property name, map key or element id in a selector.
	maxNameLen = 1024
	// maxEchoLen bounds how much of a client's string a field path or message repeats, so that
	// an error always fits in a peer's header limit (8 KiB in Netty and many proxies).
	maxEchoLen = 64
	// maxFieldLen and maxDescriptionLen bound each BadRequest violation.
	maxFieldLen       = 512
	maxDescriptionLen = 512
)

// echo quotes a client's string for a field path, cut to maxEchoLen bytes (on a rune
// boundary) with an ellipsis.
func echo(s string) string {
	if len(s) <= maxEchoLen {
		return strconv.Quote(s)
	}
	cut := maxEchoLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// truncate cuts s to n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// startKind says where a subscription starts.
type startKind int

const (
	startNow startKind = iota
	startEarliest
	startCursor
)

// subscribeParams is a validated SubscribeRequest with defaults applied.
type subscribeParams struct {
	database           string
	start              startKind
	cursor             string // the from_cursor id when start == startCursor
	selectors          []*cdcstreamv1.Selector
	checkpointInterval time.Duration
	// snapshot is the snapshot mode; token, when not nil, resumes a snapshot
	// (snapshot_token.go).
	snapshot snapshotMode
	token    *snapshotToken
	// markers is transaction_markers.
	markers bool
	// exclude is exclude_tx_metadata (nil: none): changes of transactions whose metadata
	// contains these entries are not sent (origin exclusion).
	exclude map[string]*cdcstreamv1.Value
}

// violations collects field violations; the first one decides the ErrorInfo reason.
type violations struct {
	reason cdcstreamv1.ErrorReason
	list   []*errdetails.BadRequest_FieldViolation
}

func (v *violations) add(reason cdcstreamv1.ErrorReason, field, format string, args ...any) {
	if v.reason == cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		v.reason = reason
	}
	if len(v.list) < maxViolations {
		v.list = append(v.list, &errdetails.BadRequest_FieldViolation{
			Field: truncate(field, maxFieldLen), Description: truncate(fmt.Sprintf(format, args...), maxDescriptionLen)})
	}
}

func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &requestError{reason: v.reason, violations: v.list}
}

// normaliseDatabase checks Neo4j's database (and alias) naming rules and returns the name in
// lower case (Neo4j names are case-insensitive): 3..63 characters, ASCII letters, digits,
// '.', '-' and '_', starting with a letter and not ending with '.' or '-'.
func normaliseDatabase(name string) (string, bool) {
	if len(name) < 3 || len(name) > 63 {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'):
		default:
			return "", false
		}
	}
	if last := name[len(name)-1]; last == '.' || last == '-' {
		return "", false
	}
	return strings.ToLower(name), true
}

const databaseRule = "must be 3..63 ASCII letters, digits, '.', '-' or '_', start with a letter and not end with '.' or '-'"

// validCursorID reports whether id looks like a Neo4j change identifier: non-empty base64url
// (padding allowed), bounded length. The content stays opaque.
func validCursorID(id string) bool {
	if id == "" || len(id) > maxCursorIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}

// validateSubscribe checks req without touching Neo4j and applies the defaults. The error is
// a *requestError (INVALID_ARGUMENT).
func validateSubscribe(req *cdcstreamv1.SubscribeRequest, o *options) (subscribeParams, error) {
	var vs violations
	p := subscribeParams{checkpointInterval: o.checkpointInterval}

	reqDB := ""
	if req.GetDatabase() != "" {
		if name, ok := normaliseDatabase(req.GetDatabase()); ok {
			reqDB = name
		} else {
			vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "database", "database name %s", databaseRule)
		}
	}

	cursorDB := ""
	switch start := req.GetStart().(type) {
	case nil:
		p.start = startNow
	case *cdcstreamv1.SubscribeRequest_Position:
		switch start.Position {
		case cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED, cdcstreamv1.StartPosition_START_POSITION_NOW:
			p.start = startNow
		case cdcstreamv1.StartPosition_START_POSITION_EARLIEST:
			p.start = startEarliest
		default:
			vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "position", "unknown start position %d", int32(start.Position))
		}
	case *cdcstreamv1.SubscribeRequest_FromCursor:
		p.start = startCursor
		c := start.FromCursor
		switch {
		case c == nil:
			vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "from_cursor", "cursor must be set when from_cursor is chosen")
		case c.GetId() == "":
			vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "from_cursor.id", "cursor id must not be empty")
		case !validCursorID(c.GetId()):
			vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "from_cursor.id",
				"cursor id must be a Neo4j change identifier (base64url, at most %d characters)", maxCursorIDLen)
		default:
			p.cursor = c.GetId()
		}
		if c.GetDatabase() != "" {
			if name, ok := normaliseDatabase(c.GetDatabase()); !ok {
				vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "from_cursor.database", "database name %s", databaseRule)
			} else if reqDB != "" && name != reqDB {
				vs.add(cdcstreamv1.ErrorReason_INVALID_CURSOR, "from_cursor.database",
					"cursor belongs to database %q, not to the requested database %q", name, reqDB)
			} else {
				cursorDB = name
			}
		}
	}
	switch {
	case reqDB != "":
		p.database = reqDB
	case cursorDB != "":
		p.database = cursorDB
	default:
		p.database = o.defaultDatabase
	}

	if ci := req.GetCheckpointInterval(); ci != nil {
		if err := ci.CheckValid(); err != nil {
			vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "checkpoint_interval", "malformed duration: %v", err)
		} else if d := ci.AsDuration(); d < MinCheckpointInterval || d > MaxCheckpointInterval {
			vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "checkpoint_interval", "checkpoint interval %v outside %v..%v",
				d, MinCheckpointInterval, MaxCheckpointInterval)
		} else {
			p.checkpointInterval = d
		}
	}

	sels := req.GetSelectors()
	size := 0
	for _, s := range sels {
		size += proto.Size(s)
	}
	switch {
	case len(sels) > o.maxSelectors:
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, "selectors", "%d selectors exceed the limit of %d", len(sels), o.maxSelectors)
	case size > o.maxSelectorBytes:
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, "selectors", "selectors of %d bytes exceed the limit of %d bytes", size, o.maxSelectorBytes)
	default:
		for i, s := range sels {
			validateSelector(s, "selectors["+strconv.Itoa(i)+"]", &vs)
		}
	}
	p.selectors = sels
	if pats := req.GetPatterns(); len(pats) > 0 {
		// Patterns are selectors too, appended after the typed ones (server/patterns.go).
		p.selectors = appendPatterns(sels, size, pats, o, &vs)
	}
	validateSnapshot(req, &p, &vs)
	p.markers = req.GetTransactionMarkers()
	if ex := req.GetExcludeTxMetadata(); len(ex) > 0 {
		validateValueMap("exclude_tx_metadata", ex, false, &vs)
		if n := proto.Size(excludeSelector(ex)); n > o.maxSelectorBytes {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, "exclude_tx_metadata",
				"%d bytes encoded, more than the %d allowed for selectors", n, o.maxSelectorBytes)
		}
		p.exclude = ex
	}
	return p, vs.err()
}

// excludeSelector is the selector that matches the changes exclude_tx_metadata m excludes:
// the tx_metadata subset rule, evaluated by Matcher like every selector.
func excludeSelector(m map[string]*cdcstreamv1.Value) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{TxMetadata: m}}}
}

// validateGetCursor checks req and returns the database and whether the earliest cursor is
// asked for.
func validateGetCursor(req *cdcstreamv1.GetCursorRequest, o *options) (database string, earliest bool, err error) {
	var vs violations
	database = o.defaultDatabase
	if req.GetDatabase() != "" {
		if name, ok := normaliseDatabase(req.GetDatabase()); ok {
			database = name
		} else {
			vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "database", "database name %s", databaseRule)
		}
	}
	switch req.GetPosition() {
	case cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED, cdcstreamv1.StartPosition_START_POSITION_NOW:
	case cdcstreamv1.StartPosition_START_POSITION_EARLIEST:
		earliest = true
	default:
		vs.add(cdcstreamv1.ErrorReason_INVALID_REQUEST, "position", "unknown start position %d", int32(req.GetPosition()))
	}
	return database, earliest, vs.err()
}
