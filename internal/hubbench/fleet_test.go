package hubbench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// openTimeout bounds how long a fleet takes to open its subscriptions.
const openTimeout = 60 * time.Second

// fleet is n subscriptions to a daemon, each drained by its own goroutine that counts the
// changes it receives (and, with a latency recorder, how long after its commit each arrived).
type fleet struct {
	// total counts changes received by all subscriptions; perSub by each.
	total  atomic.Int64
	perSub []atomic.Int64
	// want, when positive, is how many changes each subscription reads before it ends; done
	// counts the subscriptions that did.
	want int64
	done atomic.Int64
	lat  *latencies
	// failed holds the first stream error that was not the fleet's own cancellation;
	// failures counts them all (refused subscriptions included); live counts the
	// subscriptions that opened.
	// firstBroken is the first error of a stream that had opened.
	failed      atomic.Pointer[error]
	firstBroken atomic.Pointer[error]
	failures    atomic.Int64
	live        int
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// openFleet opens n subscriptions, req(i) being the i-th request, opening them from 32
// goroutines at a time. When waitFirst is set it returns only once every subscription
// received its first message (the opening checkpoint for a stream from NOW): all are live.
// Subscriptions end when the benchmark ends. With tolerate set, a subscription refused or
// failed is counted (failures, live) rather than failing the benchmark at once: a server that
// cannot hold n subscriptions is then measured with those it holds.
func openFleet(tb testing.TB, d *daemon, n int, req func(i int) *cdcstreamv1.SubscribeRequest, waitFirst, tolerate bool, want int64, lat *latencies) *fleet {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{perSub: make([]atomic.Int64, n), want: want, lat: lat, cancel: cancel}
	tb.Cleanup(f.stop)
	deadline := time.Now().Add(openTimeout)
	opened := make(chan error, n)  // one result per subscription: nil once it is live
	sem := make(chan struct{}, 32) // bounds the subscriptions being opened at once
	for i := range n {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			sem <- struct{}{}
			// A subscription not open (live, with waitFirst) openTimeout after the fleet
			// started opening is abandoned: its own context ends, and it counts as failed.
			sctx, scancel := context.WithCancel(ctx)
			defer scancel()
			timer := time.AfterFunc(time.Until(deadline), scancel)
			stream, err := d.client(i).Subscribe(sctx, req(i))
			if err == nil && waitFirst {
				var msg *cdcstreamv1.SubscribeResponse
				if msg, err = stream.Recv(); err == nil {
					f.count(i, msg)
				}
			}
			if !timer.Stop() && err == nil {
				err = fmt.Errorf("not open within %v", openTimeout)
			}
			<-sem
			opened <- err
			if err != nil {
				return
			}
			for f.want <= 0 || f.perSub[i].Load() < f.want {
				msg, err := stream.Recv()
				if err != nil {
					err = fmt.Errorf("subscription %d: %w", i, err)
					if ctx.Err() == nil {
						f.firstBroken.CompareAndSwap(nil, &err)
					}
					f.fail(ctx, err)
					return
				}
				f.count(i, msg)
			}
			f.done.Add(1)
		}()
	}
	for range n {
		err := <-opened
		switch {
		case err == nil:
			f.live++
		case tolerate:
			f.fail(ctx, fmt.Errorf("opening a subscription: %w", err))
		default:
			tb.Fatalf("opening %d subscriptions: %v", n, err)
		}
	}
	if f.live < n && f.failed.Load() != nil {
		tb.Logf("%d of %d subscriptions opened; first failure: %v", f.live, n, *f.failed.Load())
	}
	return f
}

// count records one message of subscription i.
func (f *fleet) count(i int, msg *cdcstreamv1.SubscribeResponse) {
	ch := msg.GetChange()
	if ch == nil {
		return
	}
	if f.lat != nil {
		f.lat.add(ch)
	}
	f.perSub[i].Add(1)
	f.total.Add(1)
}

// fail keeps the first error of a stream that ended while the fleet still ran.
func (f *fleet) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	f.failures.Add(1)
	f.failed.CompareAndSwap(nil, &err)
}

// check fails the benchmark if a stream failed, unless the fleet tolerates failures.
func (f *fleet) check(tb testing.TB, tolerate bool) {
	tb.Helper()
	if err := f.failed.Load(); err != nil && !tolerate {
		tb.Fatalf("a stream failed: %v", *err)
	}
}

// active is the number of subscriptions that received at least one change.
func (f *fleet) active() int {
	n := 0
	for i := range f.perSub {
		if f.perSub[i].Load() > 0 {
			n++
		}
	}
	return n
}

// stop ends every subscription and waits for their goroutines.
func (f *fleet) stop() {
	f.cancel()
	f.wg.Wait()
}

// latencies records the commit -> client latency of every change received after start.
type latencies struct {
	// since is when recording started, in Unix nanoseconds; until start is called it is the
	// largest int64: nothing is recorded.
	since atomic.Int64
	mu    sync.Mutex // guards d
	d     []time.Duration
}

func newLatencies() *latencies {
	l := &latencies{}
	l.since.Store(math.MaxInt64)
	return l
}

// start records the latencies of changes received from now on.
func (l *latencies) start() { l.since.Store(time.Now().UnixNano()) }

// add records the latency of ch, received now: now minus Neo4j's txCommitTime, which has
// millisecond precision (truncated), so a latency is overstated by less than a millisecond.
// A subscriber that lags shows as the age of what it receives.
func (l *latencies) add(ch *cdcstreamv1.ChangeEvent) {
	now := time.Now()
	if now.UnixNano() < l.since.Load() {
		return
	}
	lat := now.Sub(ch.GetMetadata().GetTxCommitTime().AsTime())
	l.mu.Lock()
	l.d = append(l.d, lat)
	l.mu.Unlock()
}

// quantiles returns the p-quantiles of the recorded latencies and their number.
func (l *latencies) quantiles(ps ...float64) ([]time.Duration, int) {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	slices.Sort(d)
	out := make([]time.Duration, len(ps))
	if len(d) == 0 {
		return out, 0
	}
	for i, p := range ps {
		out[i] = d[min(len(d)-1, int(p*float64(len(d))))]
	}
	return out, len(d)
}
