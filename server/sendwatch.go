package server

import (
	"context"
	"fmt"
	"time"
)

// shutdownSendGrace is how long a Send already in progress when the server shuts down may
// still take before the stream ends without its final Checkpoint.
const shutdownSendGrace = time.Second

// writer runs a stream's Sends under a watchdog (WithSendTimeout). grpc-go's Send blocks while
// the client's flow-control window is full and returns only when the stream ends, and the
// stream ends only when the handler returns; so each Send runs on the writer's goroutine, and
// the sender waits for it, for the timeout, for the stream's end or for shutdown. When the
// sender stops waiting, the handler returns, grpc-go cancels the stream, and the blocked Send
// returns and the goroutine ends; until then it holds only the message being sent.
type writer struct {
	send    func(any) error
	timeout time.Duration
	// timer is the watchdog, re-armed for every Send (one timer per stream, not per Send).
	timer    *time.Timer
	shutdown <-chan struct{}
	// in carries the message to send to the goroutine; capacity 1, and at most one message is
	// in flight. close ends the goroutine.
	in chan any
	// out carries each Send's result back; capacity 1, so that a Send finishing after the
	// sender gave up never blocks the goroutine.
	out chan error
	// done is closed when the goroutine returned.
	done chan struct{}
	// stuck is set when the sender stopped waiting for a Send; only the sender touches it.
	stuck bool
}

// newWriter starts the writer's goroutine; close must be called once the sender returned. The
// watchdog measures wall time blocked in the transport, so it runs on the system clock even
// when WithClock drives the server's other timers (tests), and never counts among them.
func newWriter(send func(any) error, timeout time.Duration, shutdown <-chan struct{}) *writer {
	timer := time.NewTimer(timeout)
	timer.Stop()
	w := &writer{send: send, timeout: timeout, timer: timer, shutdown: shutdown,
		in: make(chan any, 1), out: make(chan error, 1), done: make(chan struct{})}
	// The writer goroutine: the only caller of send; it ends when in is closed and the Send
	// in flight (if any) returned.
	go func() {
		defer close(w.done)
		for msg := range w.in {
			w.out <- w.send(msg)
		}
	}()
	return w
}

// write sends msg through the goroutine and waits for the result. It returns errSendTimeout
// when the Send stays blocked for the timeout, the cause when ctx ends, and errShuttingDown
// when the server shuts down and the Send does not finish within shutdownSendGrace. After an
// error other than the Send's own, the writer must not be used again.
func (w *writer) write(ctx context.Context, msg any) error {
	if w.stuck {
		return errSendTimeout
	}
	w.in <- msg
	w.timer.Reset(w.timeout) // no stale tick: since Go 1.23 Reset and Stop discard it
	defer w.timer.Stop()
	shutdown := w.shutdown
	// grace fires shutdownSendGrace after shutdown began during this Send; nil before.
	var grace <-chan time.Time
	for {
		select {
		case err := <-w.out:
			return err
		case <-w.timer.C:
			w.stuck = true
			return fmt.Errorf("%w (%v)", errSendTimeout, w.timeout)
		case <-ctx.Done():
			w.stuck = true
			return context.Cause(ctx)
		case <-shutdown:
			shutdown = nil
			t := time.NewTimer(shutdownSendGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			w.stuck = true
			return errShuttingDown
		}
	}
}

// close ends the goroutine. It waits for it unless a Send is still blocked: that Send returns
// once the handler has returned and grpc-go ended the stream.
func (w *writer) close() {
	close(w.in)
	if !w.stuck {
		<-w.done
	}
}
