package client

import (
	"context"
	"sync"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Gap reports that a subscription restarted after its cursor expired, under the
// ExpiredRestartEarliest or ExpiredRestartNow policy: the changes strictly after From up to and
// including Resumed were not delivered (some may have been pruned, some skipped on purpose).
type Gap struct {
	// From is the cursor that expired; nil when the subscription had none yet.
	From *cdcstreamv1.Cursor
	// Resumed is where the subscription continues: strictly after this cursor.
	Resumed *cdcstreamv1.Cursor
	// Reason is the ErrorInfo reason that caused the restart,
	// [cdcstreamv1.ErrorReason_CURSOR_EXPIRED].
	Reason cdcstreamv1.ErrorReason
	// Err is the server's error.
	Err error
}

// resumePoint is where a Subscription's next attempt starts: the newest cursor, or a position
// still to be pinned to a cursor with GetCursor, and a restart not yet reported to the caller.
type resumePoint struct {
	// mu guards cursor, which Subscription.Cursor reads from any goroutine.
	mu sync.Mutex
	// cursor is the newest cursor: of a change, a checkpoint, the stored or requested start,
	// or a resolved pin. Nil before the first.
	cursor *cdcstreamv1.Cursor

	// pin, when not UNSPECIFIED, is the position to resolve with GetCursor before the next
	// attempt: a NOW start (so that a reconnect before the first message cannot skip changes),
	// or the restart position after an expiry.
	pin cdcstreamv1.StartPosition
	// gap is a restart not yet reported. Its Resumed is nil while pin is being resolved, and set
	// once the restart cursor is known; then the gap is due.
	gap *Gap
}

// start sets the first resume point: the cursor in store if one is stored, else the request's
// from_cursor, else its position (a NOW start, or nothing, is pinned; EARLIEST is sent as is).
func (p *resumePoint) start(ctx context.Context, store CheckpointStore, req *cdcstreamv1.SubscribeRequest) error {
	if store != nil {
		c, err := store.Load(ctx)
		if err != nil {
			return err
		}
		if c != nil {
			p.advance(c)
			return nil
		}
	}
	if c := req.GetFromCursor(); c != nil {
		p.advance(c)
		return nil
	}
	if req.GetPosition() != cdcstreamv1.StartPosition_START_POSITION_EARLIEST {
		p.pin = cdcstreamv1.StartPosition_START_POSITION_NOW
	}
	return nil
}

// current returns a copy of the newest cursor, or nil. Safe for concurrent use.
func (p *resumePoint) current() *cdcstreamv1.Cursor {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cursor == nil {
		return nil
	}
	return proto.Clone(p.cursor).(*cdcstreamv1.Cursor)
}

// advance records c as the newest cursor; nil and cursors without an id are ignored.
func (p *resumePoint) advance(c *cdcstreamv1.Cursor) {
	if c.GetId() == "" {
		return
	}
	p.mu.Lock()
	p.cursor = c
	p.mu.Unlock()
}

// pinned returns the position to resolve before the next attempt, and whether there is one.
func (p *resumePoint) pinned() (cdcstreamv1.StartPosition, bool) {
	return p.pin, p.pin != cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED
}

// resolved records c, the cursor GetCursor gave for the pin. It reports whether a restart
// waited for it, which is then due.
func (p *resumePoint) resolved(c *cdcstreamv1.Cursor) bool {
	p.advance(c)
	p.pin = cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED
	if p.gap == nil {
		return false
	}
	p.gap.Resumed = c
	return true
}

// restart records a restart after err expired the cursor: at earliest when the server named
// it, else at the position pos, which must be pinned first. It returns the expired cursor.
func (p *resumePoint) restart(err error, earliest *cdcstreamv1.Cursor, pos cdcstreamv1.StartPosition) *cdcstreamv1.Cursor {
	from := p.current()
	p.gap = &Gap{From: from, Reason: cdcstreamv1.ErrorReason_CURSOR_EXPIRED, Err: err}
	if earliest != nil {
		p.resolved(earliest)
	} else {
		p.pin = pos
	}
	return from
}

// dueGap returns the restart to report now and forgets it, or nil when none is due.
func (p *resumePoint) dueGap() *Gap {
	g := p.gap
	if g == nil || g.Resumed == nil {
		return nil
	}
	p.gap = nil
	return g
}

// database is the database the subscription reads, for GetCursor, which names no cursor: the
// request's, else the newest cursor's (the server reads a cursor's database when the request
// names none), else "" (the server's default). The server stays the authority: it validates,
// lower-cases and defaults the name; the client only passes on what the stream was given.
func (p *resumePoint) database(req *cdcstreamv1.SubscribeRequest) string {
	if db := req.GetDatabase(); db != "" {
		return db
	}
	return p.current().GetDatabase()
}
