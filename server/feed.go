package server

import (
	"context"
	"errors"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// maxSyncedBatchBytes bounds the encoded bytes of one batch a synced subscription hands to
// its sender. The batch only points at window entries, but a stalled client's batches keep
// entries alive after the window evicted them: at most two such batches per stream.
const maxSyncedBatchBytes = 256 << 10

// A subscription with the shared tail (docs/architecture.md, "The shared tail") is in one of
// two states, and its poller moves it between them:
//
//   - synced: its position is inside the window. It reads the window (no Neo4j query),
//     matches each change with its Matcher and hands the matching entries, encoded once, to its
//     sender; the cursor advances with the tail even when nothing matches.
//   - unsynced: its cursor is older than the window (EARLIEST with history, an old cursor, a
//     reader the window left behind). It polls Neo4j itself with its selectors, as without the
//     tail, until a poll returns less than a full batch; then it joins: it polls without
//     selectors and matches in process, so that the first change the window also holds is
//     found, delivers the changes up to and including it, and continues in the window right
//     after it: no gap and no repeat, since both read the same log in the same order.
//
// A subscription is synced at once when its start cursor is one the window can serve (a
// cursor this replica issued recently, such as a rotated stream's last checkpoint), or when it
// starts at NOW while the tail runs (it starts at the tail's newest position).

// loopShared is loop with the shared tail t. pos is the start position in the window when
// synced is true; otherwise cursor is polled from.
func (p *poller) loopShared(ctx context.Context, cursor string, atHead bool, pos uint64, synced bool) error {
	if !synced {
		if q, ok := p.tail.win.lookup(cursor); ok {
			pos, synced = q, true
		}
	}
	buf := make([]*entry, 0, min(p.limit, 256))
	for {
		if synced {
			p.obs.Synced(p.database, 1)
			var err error
			cursor, _, err = p.readWindow(ctx, p.tail.win, pos, cursor, buf)
			p.obs.Synced(p.database, -1)
			if err != nil {
				return err
			}
			p.obs.FellOut(p.database)
			synced, atHead = false, false
		}
		joinNow := false
		if !atHead {
			// Behind the tail: follow a catch-up trail that serves the cursor (trail.go).
			if t, tpos, ok := p.tail.tails.trailFor(p.database, cursor, len(p.selectors) == 0); ok {
				p.obs.Synced(p.database, 1)
				var ended bool
				var err error
				cursor, ended, err = p.readWindow(ctx, t.win, tpos, cursor, buf)
				p.obs.Synced(p.database, -1)
				p.tail.tails.leaveTrail(t)
				if err != nil {
					return err
				}
				joinNow = ended // the trail reached the head: join the tail at once
			}
		}
		var err error
		pos, cursor, err = p.catchUp(ctx, cursor, atHead || joinNow, atHead)
		if err != nil {
			return err
		}
		synced = true
		p.obs.Joined(p.database)
	}
}

// readWindow serves the subscription from win (the shared tail's, or a catch-up trail's) from
// pos (whose cursor id is cursor) until it falls out of it or the trail ended (then it returns
// its cursor, with ended set for the latter, and a nil error) or an error ends it.
func (p *poller) readWindow(ctx context.Context, win *window, pos uint64, cursor string, buf []*entry) (_ string, ended bool, _ error) {
	if p.unverified && win == p.tail.win {
		// The tail's window holds only positions the tail read from Neo4j: the client's cursor
		// is verified, and the sender may certify it in checkpoints. (A trail starts at a
		// client's cursor: there, the trail's first poll verifies it, and the first hand-off
		// after it certifies it.)
		p.unverified = false
		if err := p.handoff(ctx, pollResult{position: cursor}); err != nil {
			return "", false, err
		}
	}
	for {
		r, changed := win.read(pos, p.limit, maxSyncedBatchBytes, buf)
		switch {
		case r.fellOut:
			return cursor, false, nil
		case errors.Is(r.err, errTrailEnded):
			return r.id, true, nil // the newest id of this position, read by the trail's last poll
		case r.err != nil:
			return "", false, r.err
		case changed != nil && (r.id != cursor || r.complete && p.tx.due()):
			// Nothing new, but an empty tail poll read a newer current id for this position (the
			// checkpoints move to it), or showed that the open transaction is complete.
			cursor = r.id
			if err := p.handoff(ctx, pollResult{changes: p.tx.close(nil), position: cursor}); err != nil {
				return "", false, err
			}
			continue
		case changed != nil:
			p.obs.Idle(p.database, 1)
			select {
			case <-ctx.Done():
				p.obs.Idle(p.database, -1)
				return "", false, context.Cause(ctx)
			case <-changed:
			}
			p.obs.Idle(p.database, -1)
			continue
		}
		var out []change
		for _, e := range r.entries {
			idx, ok := p.match.Match(e.ev)
			sent := ok && !p.excluded(e.ev)
			out = p.tx.see(e.ev, sent, out)
			if !sent {
				continue
			}
			c := change{ev: e.ev, enc: e.msgs}
			if pe := p.proj.projectFor(e.ev, idx); pe != e.ev {
				// A projected change is this subscription's own: encoded for it alone.
				pc, err := encodeChange(pe, p.maxMessage)
				if err != nil {
					return "", false, err
				}
				c = change{ev: pe, enc: pc.msgs}
			}
			out = append(out, c)
		}
		if r.complete {
			out = p.tx.close(out)
		}
		pos, cursor = r.pos, r.id
		if err := p.handoff(ctx, pollResult{changes: out, position: cursor}); err != nil {
			return "", false, err
		}
	}
}

// catchUp polls Neo4j for an unsynced subscription from cursor until it reaches the window,
// and returns the window position to continue from and its cursor id. joining says the
// cursor is near the head already (read from Current, or where a trail met the head);
// fromCurrent that it is the head just read, which the tail it seeded starts from.
func (p *poller) catchUp(ctx context.Context, cursor string, joining, fromCurrent bool) (pos uint64, id string, err error) {
	win := p.tail.win
	// joining: the last poll returned less than a full batch, so the subscription is near the
	// head and reads without selectors until it meets the window. seen is the window's change
	// channel taken before the last poll: anything the tail appended after that poll began
	// closes it, so a joining subscription never sleeps through the append it waits for.
	var seen <-chan struct{}
	if fromCurrent {
		// Nothing to read before the tail moves, if the window has not started yet: it will
		// start at this cursor (or later) and close seen. A window that started already may
		// have appended past the cursor before seen was taken: then poll first.
		seen = win.changedChan()
		if _, _, started := win.tip(); started {
			seen = nil
		}
	}
	for {
		if q, ok := win.lookup(cursor); ok {
			return q, cursor, nil
		}
		if joining && seen != nil {
			if err := p.waitTail(ctx, seen); err != nil {
				return 0, "", err
			}
			if q, ok := win.lookup(cursor); ok {
				return q, cursor, nil
			}
		}
		seen = win.changedChan()
		b, err := p.poll(ctx, cursor, joining)
		if err != nil {
			return 0, "", err
		}
		if err := checkBatch(b, p.database); err != nil {
			return 0, "", err
		}
		changes := b.Changes
		cut, q, found := win.find(changes)
		if found {
			changes = changes[:cut+1]
		}
		next := cursor
		if n := len(changes); n > 0 {
			next = changes[n-1].Cursor.Id
		} else if b.Current != "" {
			next = b.Current
		}
		if joining {
			changes = p.matching(changes)
		}
		complete := !found && len(b.Changes) < p.limit
		if next != cursor || len(changes) > 0 || p.unverified || complete && p.tx.due() {
			p.unverified = false
			r, err := p.own(changes, next, complete)
			if err != nil {
				return 0, "", err
			}
			if err := p.handoff(ctx, r); err != nil {
				return 0, "", err
			}
		}
		cursor = next
		if found {
			return q, cursor, nil
		}
		joining = len(b.Changes) < p.limit
	}
}

// waitTail blocks, for a joining subscription, until the window changed after the
// subscription's last poll began (seen closed): the tail read something its next poll may meet.
// The tail follows the head, so this costs no query of its own while nothing commits.
func (p *poller) waitTail(ctx context.Context, seen <-chan struct{}) error {
	select {
	case <-seen:
		return nil
	default:
	}
	p.obs.Idle(p.database, 1)
	defer p.obs.Idle(p.database, -1)
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-seen:
		return nil
	}
}

// matching keeps the changes the subscription's selectors match (in process).
func (p *poller) matching(changes []*cdcstreamv1.ChangeEvent) []*cdcstreamv1.ChangeEvent {
	out := changes[:0:0]
	for _, ev := range changes {
		if _, ok := p.match.Match(ev); ok {
			out = append(out, ev)
		}
	}
	return out
}
