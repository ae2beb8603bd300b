package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// maxFutureBackoff caps the wait between retries of a poll that failed with ErrFutureCursor.
const maxFutureBackoff = 10 * time.Second

var (
	// errEmptyID: the Source returned an empty change id (a Source bug, INTERNAL).
	errEmptyID = errors.New("server: source returned an empty change id")
	// errChangeWithoutCursor: the Source returned a change without a cursor id (INTERNAL).
	errChangeWithoutCursor = errors.New("server: source returned a change without a cursor id")
	// errSubscriptionEnded cancels a poller whose sender returned.
	errSubscriptionEnded = errors.New("server: subscription ended")
)

// pollResult is what the poller hands to the sender: a batch of changes and the newest
// cursor id after it, or the error that ended the poller.
type pollResult struct {
	changes  []change
	position string
	err      error
	// release, when set, is called by the sender once it sent the batch: it returns the
	// batch's bytes to the in-flight budget.
	release func()
}

// change is one change to send: the event, and its messages encoded once by the shared tail
// (nil: encoded by the sender for this stream); or, with end set instead, a transaction's end
// marker (txend.go).
type change struct {
	ev  *cdcstreamv1.ChangeEvent
	enc [][]byte
	end *cdcstreamv1.TransactionEnd
}

// poller is the only caller of Source for one subscription. It owns the query cursor.
type poller struct {
	src       Source
	clock     Clock
	obs       Observer
	log       *slog.Logger
	database  string
	selectors []*cdcstreamv1.Selector
	limit     int
	interval  time.Duration
	head      *headProber
	// prepared is the Source's storage for this subscription (PollRequest.Prepared); all is
	// the same for its polls without selectors (joining the shared tail).
	prepared, all Prepared
	// tail, when set, is the database's shared tail (feed.go); match evaluates the
	// subscription's selectors in process for it. startPos and startSynced say the stream
	// starts inside the tail's window, at that position.
	tail        *tail
	match       *Matcher
	startPos    uint64
	startSynced bool
	// budget bounds the bytes of batches read by per-subscription polls and not yet sent.
	budget *budget
	// tx places transaction end markers (txend.go).
	tx txTracker
	// exclude matches the changes origin exclusion drops (exclude_tx_metadata); nil: none.
	exclude *Matcher
	// proj holds the projections of the subscription's selectors (nil: none projects); the
	// first selector match reports decides (projection.go).
	proj projections
	// maxMessage is the largest message sent whole (WithMaxMessageBytes; fragment.go).
	maxMessage int
	// futureTimeout bounds a run of ErrFutureCursor answers (WithFutureCursorTimeout).
	futureTimeout time.Duration
	// unverified says the start cursor is the client's and no poll has accepted it yet: the
	// first successful poll is handed over even when it moved nothing, so that the sender
	// knows the cursor is real before it certifies it in a Checkpoint.
	unverified bool
	// out carries batches to the sender; capacity 1. The poller does not poll again until
	// the sender took the previous batch, so a slow client pauses polling. The poller sends
	// its final error on it too, and is the only writer; it never closes it.
	out chan<- pollResult
}

// run polls from cursor until ctx ends or a poll fails, then hands the error over. atHead
// says cursor came from Current just now, so the first poll can wait for the head to move.
func (p *poller) run(ctx context.Context, cursor string, atHead bool) {
	err := p.loop(ctx, cursor, atHead)
	select {
	case p.out <- pollResult{err: err}:
	case <-ctx.Done():
	}
}

func (p *poller) loop(ctx context.Context, cursor string, atHead bool) error {
	if p.tail != nil {
		return p.loopShared(ctx, cursor, atHead, p.startPos, p.startSynced)
	}
	pollNow := !atHead
	lastCurrent := ""
	if atHead {
		lastCurrent = cursor
	}
	for {
		if !pollNow {
			if err := p.wait(ctx, lastCurrent); err != nil {
				return err
			}
		}
		b, err := p.poll(ctx, cursor, false)
		if err != nil {
			return err
		}
		if err := checkBatch(b, p.database); err != nil {
			return err
		}
		moved := false
		if n := len(b.Changes); n > 0 {
			cursor, moved = b.Changes[n-1].Cursor.Id, true
		} else if b.Current != "" && b.Current != cursor {
			cursor, moved = b.Current, true
		}
		complete := len(b.Changes) < p.limit
		if moved || p.unverified || complete && p.tx.due() {
			p.unverified = false
			r, err := p.own(b.Changes, cursor, complete)
			if err != nil {
				return err
			}
			if err := p.handoff(ctx, r); err != nil {
				return err
			}
		}
		pollNow = len(b.Changes) >= p.limit
		lastCurrent = b.Current
	}
}

// excluded reports whether origin exclusion drops ev (its transaction's metadata holds every
// exclude_tx_metadata entry).
func (p *poller) excluded(ev *cdcstreamv1.ChangeEvent) bool {
	if p.exclude == nil {
		return false
	}
	_, ok := p.exclude.Match(ev)
	return ok
}

// own is the hand-off of changes this subscription read itself: encoded here, so that the
// poller encodes the next batch while the sender sends this one, and counted in the in-flight
// budget until the sender sent them. complete says the poll read everything committed (less
// than a full batch), so the open transaction's marker is due.
func (p *poller) own(changes []*cdcstreamv1.ChangeEvent, position string, complete bool) (pollResult, error) {
	r := pollResult{changes: make([]change, 0, len(changes)), position: position}
	var bytes int64
	for _, ev := range changes {
		excluded := p.excluded(ev)
		r.changes = p.tx.see(ev, !excluded, r.changes)
		if excluded {
			continue
		}
		if p.proj != nil {
			if idx, ok := p.match.Match(ev); ok {
				ev = p.proj.projectFor(ev, idx)
			}
		}
		e, err := encodeChange(ev, p.maxMessage)
		if err != nil {
			return pollResult{}, err
		}
		r.changes = append(r.changes, change{ev: ev, enc: e.msgs})
		bytes += int64(e.size)
	}
	if complete {
		r.changes = p.tx.close(r.changes)
	}
	if bytes > 0 {
		r.release = p.budget.add(bytes)
	}
	return r, nil
}

// poll runs one poll (without selectors when unfiltered), retrying with backoff while the
// answering member lags behind the cursor (ErrFutureCursor), for at most the future-cursor
// timeout: a follower catches up within seconds, a cursor never issued by the database never
// does (errCursorInFuture).
func (p *poller) poll(ctx context.Context, cursor string, unfiltered bool) (Batch, error) {
	req := PollRequest{Database: p.database, From: cursor, Selectors: p.selectors, Limit: p.limit, Prepared: &p.prepared}
	if unfiltered {
		req.Selectors, req.Prepared = nil, &p.all
	}
	if err := p.budget.wait(ctx); err != nil {
		return Batch{}, err
	}
	backoff := p.interval
	// since is when the current run of ErrFutureCursor answers began (zero: none yet).
	var since time.Time
	for {
		start := p.clock.Now()
		b, err := p.src.Poll(ctx, req)
		p.obs.Polled(p.database, len(b.Changes), p.clock.Now().Sub(start), err)
		if err == nil || !errors.Is(err, ErrFutureCursor) || ctx.Err() != nil {
			return b, err
		}
		if since.IsZero() {
			since = start
		} else if p.clock.Now().Sub(since) >= p.futureTimeout {
			return Batch{}, fmt.Errorf("%w (%v): %v", errCursorInFuture, p.futureTimeout, err)
		}
		level := slog.LevelDebug
		if backoff >= maxFutureBackoff {
			level = slog.LevelWarn // lagging for a long time, or a cursor from a restored database
		}
		p.log.Log(ctx, level, "server: cursor ahead of the answering member; retrying",
			"database", p.database, "backoff", backoff, "error", err)
		if err := p.sleep(ctx, backoff); err != nil {
			return Batch{}, err
		}
		backoff = min(2*backoff, maxFutureBackoff)
	}
}

// wait blocks until a poll is due after a poll that returned less than a full batch and saw
// lastCurrent as the head. When the shared prober knows the head and it equals lastCurrent,
// nothing can have changed: wait for the prober to see it move (no Neo4j query). Otherwise
// (head unknown, or the prober and the poll disagree) wait one poll interval.
func (p *poller) wait(ctx context.Context, lastCurrent string) error {
	head, known, changed := p.head.snapshot()
	if !known || head != lastCurrent {
		return p.sleep(ctx, p.interval)
	}
	p.obs.Idle(p.database, 1)
	defer p.obs.Idle(p.database, -1)
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-changed:
		}
		head, known, changed = p.head.snapshot()
		if !known || head != lastCurrent {
			return nil
		}
	}
}

// sleep waits d on the clock or until ctx ends.
func (p *poller) sleep(ctx context.Context, d time.Duration) error {
	t := p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C():
		return nil
	}
}

// handoff gives r to the sender, blocking while the sender is busy with the previous batch.
// When ctx ends first, r's bytes go back to the budget.
func (p *poller) handoff(ctx context.Context, r pollResult) error {
	select {
	case p.out <- r:
		return nil
	default:
	}
	p.obs.HandoffWaiting(p.database, 1)
	defer p.obs.HandoffWaiting(p.database, -1)
	select {
	case p.out <- r:
		return nil
	case <-ctx.Done():
		if r.release != nil {
			r.release()
		}
		return context.Cause(ctx)
	}
}
