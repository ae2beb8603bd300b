package server

import cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"

// SnapshotObserver is the optional part of an Observer that receives the progress of
// snapshots (SubscribeRequest.snapshot). An Observer passed to WithObserver that implements it
// gets these events too; internal/metrics does. The same rules as Observer apply: safe for
// concurrent use, never blocking.
type SnapshotObserver interface {
	// SnapshotActive: +1 when a subscription taking a snapshot (it holds one of the
	// WithMaxSnapshots tokens) got its first answer from Neo4j for the database (so the
	// database exists), -1 when that snapshot ended, completed or not.
	SnapshotActive(database string, delta int)
	// SnapshotChunk: a chunk of phase was read, settled against the log and sent, with the
	// number of records it sent.
	SnapshotChunk(database string, phase cdcstreamv1.SnapshotPhase, records int)
}

// snapshotObservers fans snapshot events out to the observers that implement
// SnapshotObserver.
type snapshotObservers []SnapshotObserver

// snapshotObserverOf returns the SnapshotObservers among obs (observers, or one Observer).
func snapshotObserverOf(obs Observer) snapshotObservers {
	var out snapshotObservers
	add := func(o Observer) {
		if so, ok := o.(SnapshotObserver); ok {
			out = append(out, so)
		}
	}
	if os, ok := obs.(observers); ok {
		for _, o := range os {
			add(o)
		}
	} else {
		add(obs)
	}
	return out
}

// SnapshotActive implements SnapshotObserver.
func (os snapshotObservers) SnapshotActive(db string, delta int) {
	for _, o := range os {
		o.SnapshotActive(db, delta)
	}
}

// SnapshotChunk implements SnapshotObserver.
func (os snapshotObservers) SnapshotChunk(db string, phase cdcstreamv1.SnapshotPhase, records int) {
	for _, o := range os {
		o.SnapshotChunk(db, phase, records)
	}
}
