package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// tails runs one shared tail reader per database that has subscriptions
// (docs/architecture.md, "The shared tail"): when the shared head prober sees the head move,
// the tail reads the log once, without selectors, and appends the changes, converted and
// encoded once, to the database's window; synced subscriptions read the window.
type tails struct {
	src   Source
	opts  *options
	obs   Observer
	log   *slog.Logger
	heads *heads

	// mu protects m and every tail's refs.
	mu sync.Mutex
	// m holds the running tail of each database that has subscriptions.
	m map[string]*tail
	// trails holds the catch-up trails of each database (trail.go).
	trails map[string][]*trail
}

// tail is one database's reader and window. It runs one goroutine while refs > 0.
type tail struct {
	tails    *tails
	database string
	win      *window
	head     *headProber
	// refs counts the subscriptions using the tail; guarded by tails.mu.
	refs int
	// cancel stops the goroutine; done is closed when it returned.
	cancel context.CancelFunc
	done   chan struct{}
	// prepared is the Source's storage for the tail's polls (no selectors).
	prepared Prepared
}

func newTails(src Source, o *options, obs Observer, h *heads) *tails {
	return &tails{src: src, opts: o, obs: obs, log: o.logger, heads: h, m: make(map[string]*tail), trails: make(map[string][]*trail)}
}

// acquire returns the tail of database, starting it if needed; seed, when not empty, is a
// current id the caller just read, which a new tail starts from. Pair with release.
func (ts *tails) acquire(database, seed string) *tail {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.m[database]; ok {
		t.refs++
		return t
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &tail{tails: ts, database: database, win: newWindow(ts.opts.tailWindowBytes), refs: 1,
		cancel: cancel, done: make(chan struct{}), head: ts.heads.acquire(database, seed)}
	ts.m[database] = t
	// The tail goroutine runs until the last release cancels ctx; release waits for done.
	go t.run(ctx, seed)
	return t
}

// running returns the tail of database when one runs (with a reference the caller must
// release), or nil.
func (ts *tails) running(database string) *tail {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[database]
	if !ok {
		return nil
	}
	t.refs++
	return t
}

// release drops one reference; the last one stops the tail and waits for its goroutine.
func (ts *tails) release(t *tail) {
	ts.mu.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		delete(ts.m, t.database)
	}
	ts.mu.Unlock()
	if last {
		t.cancel()
		<-t.done
		ts.heads.release(t.head)
		ts.obs.Window(t.database, 0, 0)
	}
}

// run starts the window at seed (or at Current) and follows the head until ctx ends.
func (t *tail) run(ctx context.Context, seed string) {
	defer close(t.done)
	ts := t.tails
	backoff := ts.opts.pollInterval
	for seed == "" {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		id, err := ts.src.Current(pctx, t.database)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && id != "" {
			seed = id
			break
		}
		if err == nil {
			err = errEmptyID
		}
		t.win.fail(err)
		ts.log.Warn("server: shared tail cannot read the head", "database", t.database, "error", err)
		if !t.sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxFutureBackoff)
	}
	t.win.start(seed)
	t.follow(ctx, seed)
}

// follow polls from cursor whenever the head moves past what the last poll saw, a full batch
// at once again, until ctx ends.
func (t *tail) follow(ctx context.Context, cursor string) {
	ts := t.tails
	lastCurrent := cursor
	// seenHead is the prober's head when the last poll began: a head the poll has read past.
	seenHead := ""
	pollNow := false
	backoff := ts.opts.pollInterval
	for {
		if !pollNow && !t.waitHead(ctx, lastCurrent, seenHead) {
			return
		}
		seenHead, _, _ = t.head.snapshot()
		b, es, err := ts.read(ctx, t.database, cursor, &t.prepared)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !t.failed(ctx, err, &cursor, &lastCurrent, &backoff) {
				return
			}
			pollNow = true
			continue
		}
		backoff = ts.opts.pollInterval
		t.win.append(es, b.Current, len(b.Changes) < ts.opts.batchLimit)
		changes, bytes := t.win.size()
		ts.obs.Window(t.database, changes, bytes)
		if n := len(b.Changes); n > 0 {
			cursor = b.Changes[n-1].Cursor.Id
		} else if b.Current != "" {
			cursor = b.Current
		}
		lastCurrent = b.Current
		pollNow = len(b.Changes) >= ts.opts.batchLimit
	}
}

// failed handles a failed tail poll and reports whether to go on (false: ctx ended). The
// error is published to the synced subscriptions at the newest position, which end with it as
// their own poll would have (a lagging member's "cursor in the future" is only retried: the
// tail's cursor is always one Neo4j issued). When the tail's own cursor is no longer valid
// (expired or rejected), the window restarts at the head and every position in it falls out:
// those subscriptions poll themselves and get the error for their own cursor.
func (t *tail) failed(ctx context.Context, err error, cursor, lastCurrent *string, backoff *time.Duration) bool {
	ts := t.tails
	level := slog.LevelWarn
	if errors.Is(err, ErrFutureCursor) {
		level = slog.LevelDebug
	} else {
		t.win.fail(err)
	}
	ts.log.Log(ctx, level, "server: shared tail poll failed", "database", t.database, "backoff", *backoff, "error", err)
	if !t.sleep(ctx, *backoff) {
		return false
	}
	*backoff = min(2**backoff, maxFutureBackoff)
	if !errors.Is(err, ErrCursorExpired) && !errors.Is(err, ErrInvalidCursor) {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	id, cerr := ts.src.Current(pctx, t.database)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	if cerr == nil && id != "" {
		ts.log.Warn("server: shared tail restarts at the head", "database", t.database, "error", err)
		t.win.start(id)
		*cursor, *lastCurrent = id, id
	}
	return true
}

// waitHead blocks until a poll is due: the prober saw a head that is neither the current id
// the last poll read (lastCurrent) nor the one it saw when that poll began (seenHead: the poll
// read past it, and cursors do not compare, so only a newer probe says the head moved again),
// or the prober does not know the head (then one poll interval). It returns false when ctx
// ended.
func (t *tail) waitHead(ctx context.Context, lastCurrent, seenHead string) bool {
	for {
		head, known, changed := t.head.snapshot()
		if !known {
			return t.sleep(ctx, t.tails.opts.pollInterval)
		}
		if head != lastCurrent && head != seenHead {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// sleep waits d on the server's clock; false when ctx ended first.
func (t *tail) sleep(ctx context.Context, d time.Duration) bool {
	tm := t.tails.opts.clock.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C():
		return true
	}
}

// read is one shared read of database's log (the tail's or a trail's): a poll from cursor
// without selectors, its changes checked and encoded once, observed as a tail poll.
func (ts *tails) read(ctx context.Context, database, cursor string, prepared *Prepared) (Batch, []*entry, error) {
	start := ts.opts.clock.Now()
	b, err := ts.src.Poll(ctx, PollRequest{Database: database, From: cursor, Limit: ts.opts.batchLimit, Prepared: prepared})
	if err == nil {
		err = checkBatch(b, database)
	}
	var es []*entry
	if err == nil {
		es, err = encodeBatch(b, ts.opts.maxMessageBytes)
	}
	if ctx.Err() == nil {
		ts.obs.TailPolled(database, len(b.Changes), ts.opts.clock.Now().Sub(start), err)
	}
	return b, es, err
}

// checkBatch rejects changes without a cursor id and fills in the database of their cursors.
func checkBatch(b Batch, database string) error {
	for _, ev := range b.Changes {
		if ev.GetCursor().GetId() == "" {
			return errChangeWithoutCursor
		}
		if ev.Cursor.Database == "" {
			ev.Cursor.Database = database
		}
	}
	return nil
}

// encodeBatch encodes every change of b once.
func encodeBatch(b Batch, maxMessage int) ([]*entry, error) {
	es := make([]*entry, len(b.Changes))
	for i, ev := range b.Changes {
		e, err := encodeChange(ev, maxMessage)
		if err != nil {
			return nil, err
		}
		es[i] = e
	}
	return es, nil
}
