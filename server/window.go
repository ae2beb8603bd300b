package server

import (
	"sync"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// entry is one change in a shared tail window: converted once by the Source, encoded once by
// the tail, and shared read-only by every synced subscription of the database.
type entry struct {
	// ev is the change; subscriptions match it and must never modify it.
	ev *cdcstreamv1.ChangeEvent
	// msgs are the SubscribeResponse messages that carry ev, serialized (encode.go).
	msgs [][]byte
	// size is the encoded size of msgs, what the window's byte bound counts.
	size int
	// end is the window's total of bytes ever appended, up to and including this entry.
	end int64
}

// alias is a cursor id, read from db.cdc.current() by an empty tail poll, that names the
// same log position as a window position (no change lies between them).
type alias struct {
	id  string
	pos uint64
}

// window holds the newest changes of one database, bounded in encoded bytes (docs/architecture.md,
// "The shared tail"). Positions are absolute counts of changes appended since the window was
// created: position p is "after the p-th change", so entry i (absolute) lies between positions
// i and i+1. Readable positions are first..next, where next is the position after the newest
// change; a subscription at a position below first fell out of the window.
//
// Every position in the window has a cursor id that Neo4j accepts (the id of the change just
// before it, or a current id aliased to it), and ids maps cursor ids back to positions, so
// that a subscription whose cursor is one of them is served from the window.
type window struct {
	maxBytes int64

	// mu protects every field below.
	mu sync.Mutex
	// entries are the changes at absolute positions first..next-1.
	entries []*entry
	first   uint64
	bytes   int64
	// firstID is the cursor id of position first; tipID the newest cursor id of position next.
	firstID, tipID string
	// started is false until the tail set its start position.
	started bool
	// complete says the last append was a poll that read everything committed up to its
	// current id (less than a full batch): the newest entry's transaction has no change left.
	complete bool
	// ids maps the cursor ids the window can serve to their positions: the id of every entry
	// (the position after it), the aliases, and firstID.
	ids map[string]uint64
	// aliases are the current ids recorded by empty polls, oldest first, at most one per
	// position.
	aliases []alias
	// err, when not nil, is the error of the tail's last poll; it ends synced subscriptions
	// that reach position errAt, as their own poll would have.
	err   error
	errAt uint64
	// changed is closed and replaced whenever the window changes (append, alias, error,
	// reset); waiting subscriptions select on it.
	changed chan struct{}
	// total is the bytes ever appended; maxRead the furthest position a reader has read up to.
	total   int64
	maxRead uint64
	// readMoved, when a reader of the window's progress waits (a trail's reader, trail.go), is
	// closed (and set to nil) when maxRead advances.
	readMoved chan struct{}
}

func newWindow(maxBytes int64) *window {
	return &window{maxBytes: maxBytes, ids: make(map[string]uint64), changed: make(chan struct{})}
}

// next returns the position after the newest entry; mu must be held.
func (w *window) nextLocked() uint64 { return w.first + uint64(len(w.entries)) }

// notifyLocked wakes every waiting reader; mu must be held.
func (w *window) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// start sets the window's start position (empty window) at cursor id, the tail's first
// position, and wakes readers. Calling it again resets the window: every position held so far
// falls out (first moves past them), so no subscription can continue from a position whose
// cursor the tail could not continue from itself.
func (w *window) start(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := w.nextLocked()
	if w.started {
		next++ // a reset: nobody may continue from an old position
	}
	for i := range w.entries {
		w.entries[i] = nil
	}
	w.entries = w.entries[:0]
	w.first, w.bytes, w.aliases, w.err = next, 0, nil, nil
	clear(w.ids)
	w.firstID, w.tipID, w.started = id, id, true
	w.ids[id] = next
	w.notifyLocked()
}

// append adds changes (in log order, directly after the newest position) and, when there are
// none, records current as an alias of the newest position; complete says the poll read
// everything committed (less than a full batch). It evicts the oldest entries beyond maxBytes
// and clears the last error.
func (w *window) append(es []*entry, current string, complete bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = nil
	w.complete = complete
	if len(es) == 0 {
		if current == "" || current == w.tipID {
			w.notifyLocked()
			return
		}
		pos := w.nextLocked()
		if n := len(w.aliases); n > 0 && w.aliases[n-1].pos == pos {
			if w.ids[w.aliases[n-1].id] == pos && w.aliases[n-1].id != w.firstID {
				delete(w.ids, w.aliases[n-1].id)
			}
			w.aliases = w.aliases[:n-1]
		}
		w.aliases = append(w.aliases, alias{id: current, pos: pos})
		w.ids[current] = pos
		w.tipID = current
		w.notifyLocked()
		return
	}
	for _, e := range es {
		w.total += int64(e.size)
		e.end = w.total
		w.entries = append(w.entries, e)
		w.bytes += int64(e.size)
		w.ids[e.ev.GetCursor().GetId()] = w.nextLocked()
	}
	w.tipID = es[len(es)-1].ev.GetCursor().GetId()
	w.evictLocked()
	w.notifyLocked()
}

// evictLocked drops the oldest entries while the window holds more than maxBytes (it always
// keeps the newest entry); mu must be held.
func (w *window) evictLocked() {
	n := 0
	for w.bytes > w.maxBytes && n < len(w.entries)-1 {
		e := w.entries[n]
		w.bytes -= int64(e.size)
		if w.ids[w.firstID] == w.first {
			delete(w.ids, w.firstID)
		}
		w.first++
		w.firstID = e.ev.GetCursor().GetId()
		w.entries[n] = nil
		n++
	}
	if n == 0 {
		return
	}
	w.entries = w.entries[n:]
	k := 0
	for k < len(w.aliases) && w.aliases[k].pos < w.first {
		if w.ids[w.aliases[k].id] == w.aliases[k].pos {
			delete(w.ids, w.aliases[k].id)
		}
		k++
	}
	w.aliases = w.aliases[k:]
}

// fail records the error of a tail poll at the newest position and wakes readers.
func (w *window) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err, w.errAt = err, w.nextLocked()
	w.notifyLocked()
}

// lookup returns the position of cursor id when the window can serve it.
func (w *window) lookup(id string) (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pos, ok := w.ids[id]
	return pos, ok && pos >= w.first && pos <= w.nextLocked()
}

// find returns the index in changes of the first change whose id the window holds, and the
// position after it.
func (w *window) find(changes []*cdcstreamv1.ChangeEvent) (index int, pos uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := w.nextLocked()
	for i, ev := range changes {
		if p, ok := w.ids[ev.GetCursor().GetId()]; ok && p >= w.first && p <= next {
			return i, p, true
		}
	}
	return 0, 0, false
}

// changedChan returns the channel closed at the window's next change.
func (w *window) changedChan() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// tip returns the newest position and its cursor id; ok is false before the tail started.
func (w *window) tip() (pos uint64, id string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nextLocked(), w.tipID, w.started
}

// readResult is what read returns to a synced subscription.
type readResult struct {
	// entries are the window's entries from the position read, in order (shared: read-only).
	entries []*entry
	// pos is the position after them and id its cursor id.
	pos uint64
	id  string
	// fellOut says the position read is no longer in the window (nothing else is set).
	fellOut bool
	// complete says pos is the newest position and the poll that reached it read everything
	// committed: no change of the last entry's transaction can follow.
	complete bool
	// err is the tail's error at the position read (then entries is empty, and pos and id
	// are the position read and its newest cursor id).
	err error
}

// read returns up to maxN entries, and about maxBytes, from position pos (always at least
// one entry when there is one). When pos is the newest position it returns no entries and,
// unless the tail failed there, changed: the channel closed at the window's next change.
func (w *window) read(pos uint64, maxN int, maxBytes int, buf []*entry) (r readResult, changed <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := w.nextLocked()
	switch {
	case pos < w.first || pos > next:
		return readResult{fellOut: true}, nil
	case pos == next && w.err != nil && w.errAt == pos:
		return readResult{pos: pos, id: w.tipID, err: w.err}, nil
	case pos == next:
		return readResult{pos: pos, id: w.tipID, complete: w.complete}, w.changed
	}
	bytes := 0
	out := buf[:0]
	for p := pos; p < next && len(out) < maxN && (len(out) == 0 || bytes < maxBytes); p++ {
		e := w.entries[p-w.first]
		out = append(out, e)
		bytes += e.size
	}
	end := pos + uint64(len(out))
	if end > w.maxRead {
		w.maxRead = end
		if w.readMoved != nil {
			close(w.readMoved)
			w.readMoved = nil
		}
	}
	id := out[len(out)-1].ev.GetCursor().GetId()
	if end == next {
		id = w.tipID
	}
	return readResult{entries: out, pos: end, id: id, complete: end == next && w.complete}, nil
}

// ahead returns the encoded bytes of the entries no reader has read yet, and a channel closed
// when a reader reads further.
func (w *window) ahead() (bytes int64, moved <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch next := w.nextLocked(); {
	case w.maxRead <= w.first:
		bytes = w.bytes
	case w.maxRead >= next:
		bytes = 0
	default:
		bytes = w.total - w.entries[w.maxRead-1-w.first].end
	}
	if w.readMoved == nil {
		w.readMoved = make(chan struct{})
	}
	return bytes, w.readMoved
}

// size returns the number of entries and their encoded bytes.
func (w *window) size() (changes int, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entries), w.bytes
}
