package server

import (
	"context"
	"errors"
)

// Catch-up trails (docs/architecture.md, section 9): subscriptions that start behind the
// shared tail's window (EARLIEST with history, an old cursor) would each read the same history
// from Neo4j. A trail is a window that starts at such a cursor, with a reader that reads the
// log from there without selectors, encoded once, as fast as its fastest subscription reads:
// it polls while less than half its window is unread, so it never runs far ahead of every
// reader, and a reader slower than the others falls out of it and polls itself. Subscriptions
// whose cursor a trail's window serves are synced to the trail; when the trail's reader reaches
// the head (a poll returns less than a full batch) it ends, and its subscriptions join the
// shared tail as any subscription near the head does.
//
// Who starts a trail: a subscription without selectors whose start no window serves (with
// selectors, its own polls read only what its selectors match, which for a narrow selector on a
// long log is far less than the whole log; it still uses a trail that serves its cursor). At most
// maxTrails trails run per database; beyond that, subscriptions poll themselves.

// maxTrails bounds the trails of one database (each holds a window of trailWindowBytes).
const maxTrails = 8

// errTrailEnded is a trail window's error at its last position: its reader reached the head.
var errTrailEnded = errors.New("server: catch-up trail reached the head")

// trail is one catch-up window and its reader.
type trail struct {
	tails    *tails
	database string
	win      *window
	// refs counts the subscriptions using the trail; guarded by tails.mu.
	refs int
	// cancel stops the reader; done is closed when it returned.
	cancel context.CancelFunc
	done   chan struct{}
	// prepared is the Source's storage for the reader's polls (no selectors).
	prepared Prepared
}

// trailWindowBytes is the window of one trail: an eighth of the tail's, at least the minimum.
func (ts *tails) trailWindowBytes() int64 {
	return max(ts.opts.tailWindowBytes/8, MinTailWindowBytes)
}

// trailFor returns a trail of database whose window serves cursor, with the position of cursor
// in it (and a reference to release with leaveTrail). When none does and start is set, it
// starts one at cursor, unless maxTrails already run.
func (ts *tails) trailFor(database, cursor string, start bool) (*trail, uint64, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.trails[database] {
		if pos, ok := t.win.lookup(cursor); ok {
			t.refs++
			return t, pos, true
		}
	}
	if !start || len(ts.trails[database]) >= maxTrails {
		return nil, 0, false
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &trail{tails: ts, database: database, win: newWindow(ts.trailWindowBytes()), refs: 1,
		cancel: cancel, done: make(chan struct{})}
	t.win.start(cursor)
	ts.trails[database] = append(ts.trails[database], t)
	// The reader goroutine runs until the trail reached the head, failed, or its last
	// subscription left (leaveTrail cancels ctx and waits for done).
	go t.run(ctx, cursor)
	return t, 0, true
}

// leaveTrail drops one reference; the last one stops the reader and forgets the trail.
func (ts *tails) leaveTrail(t *trail) {
	ts.mu.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		list := ts.trails[t.database]
		for i, u := range list {
			if u == t {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(ts.trails, t.database)
		} else {
			ts.trails[t.database] = list
		}
	}
	ts.mu.Unlock()
	if last {
		t.cancel()
		<-t.done
	}
}

// run reads the log from cursor, paced by the trail's fastest reader, until the head.
func (t *trail) run(ctx context.Context, cursor string) {
	defer close(t.done)
	ts := t.tails
	half := t.win.maxBytes / 2
	for {
		for {
			ahead, moved := t.win.ahead()
			if ahead < half {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-moved:
			}
		}
		b, es, err := ts.read(ctx, t.database, cursor, &t.prepared)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrFutureCursor) {
			// A lagging member: the readers fall back to their own polls, which retry it.
			err = errTrailEnded
		}
		if err != nil {
			// Its readers end with the error their own poll would have given (an expired
			// history, Neo4j unavailable); the trail does not retry.
			t.win.fail(err)
			return
		}
		t.win.append(es, b.Current, len(b.Changes) < ts.opts.batchLimit)
		if n := len(b.Changes); n > 0 {
			cursor = b.Changes[n-1].Cursor.Id
		}
		if len(b.Changes) < ts.opts.batchLimit {
			t.win.fail(errTrailEnded)
			return
		}
	}
}
