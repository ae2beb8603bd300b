package server

import (
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Observer receives the events of the service's streams: the one event source for metrics
// (internal/metrics implements it for Prometheus). The Server calls it from many goroutines,
// so an implementation must be safe for concurrent use and must not block. Embed NopObserver
// to implement only some events. The database is always the validated, lower-cased name the
// stream reads, which may not exist (a stream for an unknown database starts and then ends
// with DATABASE_NOT_FOUND): bound label sets accordingly.
type Observer interface {
	// StreamStarted: a Subscribe stream passed validation and admission and holds a slot.
	StreamStarted(database string)
	// StreamEnded: once per started stream, with its final status code and ErrorInfo reason
	// (ERROR_REASON_UNSPECIFIED for a status without one, such as CANCELED). A rotation ends
	// with UNAVAILABLE and STREAM_ROTATED, a shutdown with SERVER_SHUTTING_DOWN.
	StreamEnded(database string, code codes.Code, reason cdcstreamv1.ErrorReason)
	// ChangeSent: a ChangeEvent went to a client; commitTime is its transaction's commit time
	// (zero when Neo4j reported none).
	ChangeSent(database string, commitTime time.Time)
	// CheckpointSent: a Checkpoint went to a client.
	CheckpointSent(database string)
	// Polled: after every Source.Poll, with the number of changes, its duration and error.
	Polled(database string, changes int, took time.Duration, err error)
	// HeadProbed: after every shared head probe (Source.Current); moved says the head changed.
	HeadProbed(database string, moved bool, err error)
	// BatchSent: a sender has sent a batch handed over by its poller (possibly empty: only
	// the position moved).
	BatchSent(database string)
	// Idle: +1 when a poller starts waiting for the shared head prober to see the head move
	// (an idle subscription), -1 when it stops waiting.
	Idle(database string, delta int)
	// HandoffWaiting: +1 when a poller starts waiting for its sender to take a batch (the
	// client is slower than Neo4j), -1 when it stops waiting.
	HandoffWaiting(database string, delta int)
	// Refused: a call was refused before any Neo4j work (rpc "Subscribe" or "GetCursor": an
	// invalid request, an admission refusal, no slot, shutdown), with its ErrorInfo reason.
	// Authenticating interceptors report their refusals here too (internal/auth). No database
	// label: a refused request's database is not known to exist.
	Refused(rpc string, reason cdcstreamv1.ErrorReason)
	// TailPolled: after every poll of a database's shared tail (Source.Poll without
	// selectors), with the number of changes, its duration and error.
	TailPolled(database string, changes int, took time.Duration, err error)
	// Window: the size of a database's shared tail window after it changed (changes and
	// encoded bytes; 0, 0 when the tail stopped).
	Window(database string, changes int, bytes int64)
	// Synced: +1 when a subscription starts reading the shared tail's window, -1 when it stops
	// (it fell out, or the stream ended). Subscriptions not synced poll Neo4j themselves.
	Synced(database string, delta int)
	// Joined: an unsynced subscription reached the window and is served from it.
	Joined(database string)
	// FellOut: a synced subscription's position left the window (the client read slower than
	// the window turned over); it polls Neo4j itself until it joins again.
	FellOut(database string)
	// InFlight: bytes read by per-subscription polls entered (+) or left (-) the in-flight
	// budget (WithMaxInFlightBytes).
	InFlight(delta int64)
	// Headroom: after every successful shared head probe, the smallest retention headroom
	// among the database's open streams: transactions is the tx_id of the last change the
	// stream sent minus that of the oldest change Neo4j retains (read at most every
	// retentionInterval, 30 s, per database), age the difference of their commit times (zero
	// when either is unknown). A stream that has sent no change yet does not count. known is
	// false when no stream has a value, the oldest retained change is not known, or the
	// database's prober stopped (no stream left): drop the value then.
	Headroom(database string, transactions int64, age time.Duration, known bool)
}

// NopObserver ignores every event; embed it in an Observer that handles only some.
type NopObserver struct{}

// StreamStarted implements Observer.
func (NopObserver) StreamStarted(string) {}

// StreamEnded implements Observer.
func (NopObserver) StreamEnded(string, codes.Code, cdcstreamv1.ErrorReason) {}

// ChangeSent implements Observer.
func (NopObserver) ChangeSent(string, time.Time) {}

// CheckpointSent implements Observer.
func (NopObserver) CheckpointSent(string) {}

// Polled implements Observer.
func (NopObserver) Polled(string, int, time.Duration, error) {}

// HeadProbed implements Observer.
func (NopObserver) HeadProbed(string, bool, error) {}

// BatchSent implements Observer.
func (NopObserver) BatchSent(string) {}

// Idle implements Observer.
func (NopObserver) Idle(string, int) {}

// HandoffWaiting implements Observer.
func (NopObserver) HandoffWaiting(string, int) {}

// Refused implements Observer.
func (NopObserver) Refused(string, cdcstreamv1.ErrorReason) {}

// TailPolled implements Observer.
func (NopObserver) TailPolled(string, int, time.Duration, error) {}

// Window implements Observer.
func (NopObserver) Window(string, int, int64) {}

// Synced implements Observer.
func (NopObserver) Synced(string, int) {}

// Joined implements Observer.
func (NopObserver) Joined(string) {}

// FellOut implements Observer.
func (NopObserver) FellOut(string) {}

// InFlight implements Observer.
func (NopObserver) InFlight(int64) {}

// Headroom implements Observer.
func (NopObserver) Headroom(string, int64, time.Duration, bool) {}

// observers fans every event out to several Observers, in order.
type observers []Observer

func (os observers) StreamStarted(db string) {
	for _, o := range os {
		o.StreamStarted(db)
	}
}

func (os observers) StreamEnded(db string, code codes.Code, reason cdcstreamv1.ErrorReason) {
	for _, o := range os {
		o.StreamEnded(db, code, reason)
	}
}

func (os observers) ChangeSent(db string, commit time.Time) {
	for _, o := range os {
		o.ChangeSent(db, commit)
	}
}

func (os observers) CheckpointSent(db string) {
	for _, o := range os {
		o.CheckpointSent(db)
	}
}

func (os observers) Polled(db string, n int, took time.Duration, err error) {
	for _, o := range os {
		o.Polled(db, n, took, err)
	}
}

func (os observers) HeadProbed(db string, moved bool, err error) {
	for _, o := range os {
		o.HeadProbed(db, moved, err)
	}
}

func (os observers) BatchSent(db string) {
	for _, o := range os {
		o.BatchSent(db)
	}
}

func (os observers) Idle(db string, delta int) {
	for _, o := range os {
		o.Idle(db, delta)
	}
}

func (os observers) HandoffWaiting(db string, delta int) {
	for _, o := range os {
		o.HandoffWaiting(db, delta)
	}
}

func (os observers) Refused(rpc string, reason cdcstreamv1.ErrorReason) {
	for _, o := range os {
		o.Refused(rpc, reason)
	}
}

func (os observers) TailPolled(db string, n int, took time.Duration, err error) {
	for _, o := range os {
		o.TailPolled(db, n, took, err)
	}
}

func (os observers) Window(db string, changes int, bytes int64) {
	for _, o := range os {
		o.Window(db, changes, bytes)
	}
}

func (os observers) Synced(db string, delta int) {
	for _, o := range os {
		o.Synced(db, delta)
	}
}

func (os observers) Joined(db string) {
	for _, o := range os {
		o.Joined(db)
	}
}

func (os observers) FellOut(db string) {
	for _, o := range os {
		o.FellOut(db)
	}
}

func (os observers) InFlight(delta int64) {
	for _, o := range os {
		o.InFlight(delta)
	}
}

func (os observers) Headroom(db string, transactions int64, age time.Duration, known bool) {
	for _, o := range os {
		o.Headroom(db, transactions, age, known)
	}
}

// Stats is a snapshot of the Server's counters since New.
type Stats struct {
	// ActiveSubscriptions is the number of open Subscribe streams.
	ActiveSubscriptions int64
	// Polls is the number of Source.Poll calls; PollErrors of those failed.
	Polls, PollErrors uint64
	// HeadProbes is the number of shared head probes (Source.Current calls by the prober).
	HeadProbes uint64
	// ChangesSent and CheckpointsSent count messages sent to clients.
	ChangesSent, CheckpointsSent uint64
	// Batches is the number of poll results the senders have processed (sent their changes
	// and moved their newest cursor).
	Batches uint64
	// PollersIdle is the number of subscriptions waiting for the head to move; they cost no
	// Neo4j query beyond the shared head probe.
	PollersIdle int64
	// PollersWaiting is the number of subscriptions whose poller holds a batch that the
	// sender has not taken yet (clients slower than Neo4j).
	PollersWaiting int64
	// Rotations is the number of streams ended by WithMaxStreamAge.
	Rotations uint64
	// Refusals is the number of calls refused before any Neo4j work (Observer.Refused).
	Refusals uint64
	// TailPolls is the number of shared tail polls (Source.Poll without selectors, once per
	// database and head move); TailPollErrors of those failed.
	TailPolls, TailPollErrors uint64
	// Synced is the number of subscriptions served from a shared tail window.
	Synced int64
	// Joins and FellOut count subscriptions that reached a window, and that left one.
	Joins, FellOut uint64
	// InFlightBytes is the bytes read by per-subscription polls and not sent yet.
	InFlightBytes int64
}

// counters is the built-in Observer behind Stats.
type counters struct {
	active, waiting, idlers      atomic.Int64
	polls, pollErrors, probes    atomic.Uint64
	changesSent, checkpointsSent atomic.Uint64
	batches, rotations, refusals atomic.Uint64
	tailPolls, tailPollErrors    atomic.Uint64
	synced, inFlight             atomic.Int64
	joins, fellOut               atomic.Uint64
}

func (c *counters) TailPolled(_ string, _ int, _ time.Duration, err error) {
	c.tailPolls.Add(1)
	if err != nil {
		c.tailPollErrors.Add(1)
	}
}

func (c *counters) Window(string, int, int64) {}

func (c *counters) Synced(_ string, delta int) { c.synced.Add(int64(delta)) }

func (c *counters) Joined(string) { c.joins.Add(1) }

func (c *counters) FellOut(string) { c.fellOut.Add(1) }

func (c *counters) InFlight(delta int64) { c.inFlight.Add(delta) }

func (c *counters) Headroom(string, int64, time.Duration, bool) {}

func (c *counters) Refused(string, cdcstreamv1.ErrorReason) { c.refusals.Add(1) }

func (c *counters) StreamStarted(string) { c.active.Add(1) }

func (c *counters) StreamEnded(_ string, _ codes.Code, reason cdcstreamv1.ErrorReason) {
	c.active.Add(-1)
	if reason == cdcstreamv1.ErrorReason_STREAM_ROTATED {
		c.rotations.Add(1)
	}
}

func (c *counters) ChangeSent(string, time.Time) { c.changesSent.Add(1) }

func (c *counters) CheckpointSent(string) { c.checkpointsSent.Add(1) }

func (c *counters) Polled(_ string, _ int, _ time.Duration, err error) {
	c.polls.Add(1)
	if err != nil {
		c.pollErrors.Add(1)
	}
}

func (c *counters) HeadProbed(string, bool, error) { c.probes.Add(1) }

func (c *counters) BatchSent(string) { c.batches.Add(1) }

func (c *counters) Idle(_ string, delta int) { c.idlers.Add(int64(delta)) }

func (c *counters) HandoffWaiting(_ string, delta int) { c.waiting.Add(int64(delta)) }

func (c *counters) snapshot() Stats {
	return Stats{
		ActiveSubscriptions: c.active.Load(),
		Polls:               c.polls.Load(),
		PollErrors:          c.pollErrors.Load(),
		HeadProbes:          c.probes.Load(),
		ChangesSent:         c.changesSent.Load(),
		CheckpointsSent:     c.checkpointsSent.Load(),
		Batches:             c.batches.Load(),
		PollersIdle:         c.idlers.Load(),
		PollersWaiting:      c.waiting.Load(),
		Rotations:           c.rotations.Load(),
		Refusals:            c.refusals.Load(),
		TailPolls:           c.tailPolls.Load(),
		TailPollErrors:      c.tailPollErrors.Load(),
		Synced:              c.synced.Load(),
		Joins:               c.joins.Load(),
		FellOut:             c.fellOut.Load(),
		InFlightBytes:       c.inFlight.Load(),
	}
}
