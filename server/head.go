package server

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// probeTimeout bounds one head probe, so that a hung connection cannot freeze the head that
// idle subscriptions wait on: a failed probe makes them fall back to polling every interval.
const probeTimeout = 30 * time.Second

// heads shares one head probe per database among all subscriptions of that database, so
// that idle subscriptions cost O(1) Neo4j queries per poll interval (docs/architecture.md):
// the prober calls Source.Current once per interval, and a subscription polls
// only when the head differs from the current id it saw on its last poll.
type heads struct {
	src      Source
	clock    Clock
	interval time.Duration
	obs      Observer
	log      *slog.Logger

	// mu protects probers and every prober's refs.
	mu sync.Mutex
	// probers holds the running prober of each database that has subscriptions.
	probers map[string]*headProber
}

// headProber probes one database's head. It runs one goroutine while refs > 0.
type headProber struct {
	heads    *heads
	database string
	// refs counts the subscriptions using the prober; guarded by heads.mu.
	refs int
	// cancel stops the probe goroutine.
	cancel context.CancelFunc
	// done is closed by the probe goroutine when it exits; release waits for it.
	done chan struct{}

	// mu protects head, known and changed.
	mu sync.Mutex
	// head is the last id Current returned; known is false before the first answer and
	// after a failed probe.
	head  string
	known bool
	// changed is closed (and replaced) whenever head or known changes; waiting
	// subscriptions select on it.
	changed chan struct{}
	// retained is the oldest retained change as last read (headroom.go); retainedOK is
	// false when it is not known. streams holds the positions of the subscriptions using the
	// prober (track, untrack). All three are guarded by mu.
	retained   retained
	retainedOK bool
	streams    map[*streamPos]struct{}
	// retainedAt is when the oldest retained change was last read (when the prober started,
	// before the first read); only the probe goroutine uses it.
	retainedAt time.Time
}

func newHeads(src Source, o *options, obs Observer) *heads {
	return &heads{src: src, clock: o.clock, interval: o.pollInterval, obs: obs, log: o.logger,
		probers: make(map[string]*headProber)}
}

// acquire returns the prober of database, starting it if needed. seed, when not empty, is a
// head id the caller just read from Current; a new prober uses it instead of probing at once.
// Every acquire must be paired with one release.
func (h *heads) acquire(database, seed string) *headProber {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.probers[database]; ok {
		p.refs++
		return p
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &headProber{heads: h, database: database, refs: 1, cancel: cancel,
		done: make(chan struct{}), changed: make(chan struct{})}
	if seed != "" {
		p.head, p.known = seed, true
	}
	h.probers[database] = p
	// The probe goroutine runs until the last release cancels ctx; release waits for done.
	go p.run(ctx, seed == "")
	return p
}

// release drops one reference; the last one stops the prober and waits for its goroutine.
func (h *heads) release(p *headProber) {
	h.mu.Lock()
	p.refs--
	last := p.refs == 0
	if last {
		delete(h.probers, p.database)
	}
	h.mu.Unlock()
	if last {
		p.cancel()
		<-p.done
	}
}

// snapshot returns the head, whether it is known, and a channel closed at its next change.
func (p *headProber) snapshot() (head string, known bool, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.head, p.known, p.changed
}

// run probes every interval (at once first when probeNow) until ctx is canceled.
func (p *headProber) run(ctx context.Context, probeNow bool) {
	defer close(p.done)
	h := p.heads
	defer h.obs.Headroom(p.database, 0, 0, false)
	p.retainedAt = h.clock.Now() // the first read of the oldest retained change is due later
	for {
		if !probeNow {
			t := h.clock.NewTimer(h.interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
		}
		probeNow = false
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		id, err := h.src.Current(pctx, p.database)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && id == "" {
			err = errEmptyID
		}
		moved := p.update(id, err)
		h.obs.HeadProbed(p.database, moved, err)
		if err != nil {
			h.log.Warn("server: head probe failed", "database", p.database, "error", err)
			continue
		}
		p.readRetained(ctx)
	}
}

// update records a probe result and wakes waiting subscriptions when it changed anything.
func (p *headProber) update(id string, err error) (moved bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	known := err == nil
	if known == p.known && (!known || id == p.head) {
		return false
	}
	if known {
		p.head = id
	}
	p.known = known
	close(p.changed)
	p.changed = make(chan struct{})
	return known
}
