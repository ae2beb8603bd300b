package server

import (
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
)

// observer receives the events metrics are made of. The Server calls it from many goroutines,
// so implementations must be safe for concurrent use and must not block. counters is the
// built-in implementation behind Stats; an exporter (Prometheus, OpenTelemetry) can be added as
// a second implementation without touching the subscription code.
type observer interface {
	// subscriptionStarted is called when a stream passed validation and holds a slot.
	subscriptionStarted(database string)
	// subscriptionEnded is called once per started stream with its final status code.
	subscriptionEnded(database string, code codes.Code)
	// polled is called after every Source.Poll with the number of changes and the error.
	polled(database string, changes int, took time.Duration, err error)
	// headProbed is called after every shared head probe (Source.Current).
	headProbed(database string, moved bool, err error)
	// sent is called after a message went to a client; checkpoint says which kind.
	sent(database string, checkpoint bool)
	// batchSent is called after the sender has sent a batch handed over by the poller
	// (possibly empty: only the position moved).
	batchSent(database string)
	// idle is called with +1 when a poller starts waiting for the shared head prober to see
	// the head move (an idle subscription) and with -1 when it stops waiting.
	idle(database string, delta int)
	// handoffWaiting is called with +1 when a poller starts waiting for its sender to take a
	// batch (the client is slower than Neo4j) and with -1 when it stops waiting.
	handoffWaiting(database string, delta int)
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
}

// counters is the observer behind Stats.
type counters struct {
	active, waiting, idlers      atomic.Int64
	polls, pollErrors, probes    atomic.Uint64
	changesSent, checkpointsSent atomic.Uint64
	batches                      atomic.Uint64
}

func (c *counters) subscriptionStarted(string) { c.active.Add(1) }

func (c *counters) subscriptionEnded(string, codes.Code) { c.active.Add(-1) }

func (c *counters) polled(_ string, _ int, _ time.Duration, err error) {
	c.polls.Add(1)
	if err != nil {
		c.pollErrors.Add(1)
	}
}

func (c *counters) headProbed(string, bool, error) { c.probes.Add(1) }

func (c *counters) sent(_ string, checkpoint bool) {
	if checkpoint {
		c.checkpointsSent.Add(1)
	} else {
		c.changesSent.Add(1)
	}
}

func (c *counters) batchSent(string) { c.batches.Add(1) }

func (c *counters) idle(_ string, delta int) { c.idlers.Add(int64(delta)) }

func (c *counters) handoffWaiting(_ string, delta int) { c.waiting.Add(int64(delta)) }

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
	}
}
