package server

import (
	"context"
	"sync"
)

// budget bounds the bytes in flight across all streams of a Server (WithMaxInFlightBytes):
// the encoded bytes of batches that per-subscription polls read from Neo4j and whose sender
// has not sent them yet. A poll waits while the budget is spent, so the overshoot is at most
// one batch per stream polling at that moment. Changes served from a shared tail window are
// not counted here: they are the window's, shared by every stream (WithTailWindowBytes).
type budget struct {
	max int64
	obs Observer

	// mu protects used and freed.
	mu   sync.Mutex
	used int64
	// freed is closed and replaced whenever bytes are returned; waiting polls select on it.
	freed chan struct{}
}

func newBudget(max int64, obs Observer) *budget {
	return &budget{max: max, obs: obs, freed: make(chan struct{})}
}

// wait blocks while the budget is spent, until ctx ends.
func (b *budget) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		if b.used < b.max {
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-freed:
		}
	}
}

// add counts n bytes in flight and returns the function that returns them (idempotent).
func (b *budget) add(n int64) (release func()) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
	b.obs.InFlight(n)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			close(b.freed)
			b.freed = make(chan struct{})
			b.mu.Unlock()
			b.obs.InFlight(-n)
		})
	}
}
