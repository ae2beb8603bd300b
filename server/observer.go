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
}

// counters is the built-in Observer behind Stats.
type counters struct {
	active, waiting, idlers      atomic.Int64
	polls, pollErrors, probes    atomic.Uint64
	changesSent, checkpointsSent atomic.Uint64
	batches, rotations           atomic.Uint64
}

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
	}
}
