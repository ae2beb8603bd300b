package scaletest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
)

// pos is a change's place in the log: (tx_id, seq), ascending in commit order.
type pos struct{ tx, seq int64 }

// less orders positions as the log does.
func (p pos) less(q pos) bool { return p.tx < q.tx || (p.tx == q.tx && p.seq < q.seq) }

// recorder collects the changes one consumer delivered, in delivery order.
type recorder struct {
	name string

	mu  sync.Mutex // guards got, starts and bad
	got []pos
	// starts holds, for each consumer process after the first, the index in got of its first
	// delivery.
	starts []int
	// bad is the first delivery that could not be read (a cdctail line that is not a change).
	bad string
}

func (r *recorder) add(p pos) {
	r.mu.Lock()
	r.got = append(r.got, p)
	r.mu.Unlock()
}

// segments returns a copy of what was delivered so far and where each process after the
// first began.
func (r *recorder) segments() ([]pos, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pos(nil), r.got...), append([]int(nil), r.starts...)
}

// delivered returns a copy of what was delivered so far.
func (r *recorder) delivered() []pos {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pos(nil), r.got...)
}

// reached reports whether a change at or after p was delivered.
func (r *recorder) reached(p pos) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got) > 0 && !r.got[len(r.got)-1].less(p)
}

// goConsumer follows the stream through addr with the Go client library, storing its cursor
// in a FileStore and committing after each message, until stop is called.
type goConsumer struct {
	rec    *recorder
	cancel context.CancelFunc
	done   chan struct{} // closed when the receive loop returned; err is set then
	err    error
}

func startGoConsumer(t *testing.T, addr, dir string) *goConsumer {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &goConsumer{rec: &recorder{name: "go-client"}, cancel: cancel, done: make(chan struct{})}
	logger := slog.New(slog.NewTextHandler(&proctest.Log{}, nil))
	sub := client.New(conn, client.WithBackoff(10*time.Millisecond, 500*time.Millisecond), client.WithLogger(logger)).
		Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
			Database:           simDatabase,
			Start:              &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
			CheckpointInterval: durationpb.New(time.Second),
		}, client.WithCheckpointStore(client.NewFileStore(filepath.Join(dir, "go-client.cursor"))))
	go func() {
		defer close(c.done)
		defer conn.Close()
		defer sub.Close()
		for sub.Receive() {
			if ch := sub.Msg().GetChange(); ch != nil {
				c.rec.add(pos{ch.TxId, ch.Seq})
			}
			if err := sub.Commit(ctx); err != nil && ctx.Err() == nil {
				c.err = err
				return
			}
		}
		if ctx.Err() == nil {
			c.err = sub.Err()
		}
	}()
	t.Cleanup(c.stop)
	return c
}

// stop ends the subscription and waits for the receive loop.
func (c *goConsumer) stop() {
	c.cancel()
	<-c.done
}

// tailConsumer is a cdctail process following the stream through the balancer, with a
// checkpoint file; its stdout (one JSON change per line) feeds rec.
type tailConsumer struct {
	rec  *recorder
	bin  string
	args []string
	proc *proctest.Daemon
	// starts counts the processes started.
	starts int
}

func startTail(t *testing.T, bin, addr, dir string) *tailConsumer {
	t.Helper()
	c := &tailConsumer{rec: &recorder{name: "cdctail"}, bin: bin, args: []string{"--address", addr, "--earliest",
		"--checkpoint-file", filepath.Join(dir, "cdctail.cursor"), "--checkpoint-interval", "1s"}}
	c.start(t)
	return c
}

// start runs a cdctail process (again): with an existing checkpoint file it continues from it.
func (c *tailConsumer) start(t *testing.T) {
	t.Helper()
	if c.starts > 0 {
		c.rec.mu.Lock()
		c.rec.starts = append(c.rec.starts, len(c.rec.got))
		c.rec.mu.Unlock()
	}
	c.proc, _ = proctest.StartProcess(t, c.bin, proctest.Options{Stdout: &lineWriter{line: c.line}}, c.args...)
	c.starts++
}

// finish ends the running cdctail with SIGKILL, after checking that it had not ended by
// itself (a consumer that gave up during the run is a failure). Its output up to the kill is
// what it delivered. (SIGKILL, not SIGTERM: cdctail's SIGTERM exit status is not what these
// tests are about, see cmd/cdctail.)
func (c *tailConsumer) finish(t *testing.T) {
	t.Helper()
	select {
	case <-c.proc.Exited():
		_, err := c.proc.Wait(0)
		t.Errorf("cdctail ended by itself during the run (%v):\n%s", err, c.proc.Log)
	default:
	}
	c.proc.Kill()
}

// line parses one line of cdctail's output.
func (c *tailConsumer) line(b []byte) {
	var l struct {
		TxID json.Number `json:"txId"`
		Seq  json.Number `json:"seq"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := dec.Decode(&l)
	tx, err1 := strconv.ParseInt(string(l.TxID), 10, 64)
	seq, err2 := strconv.ParseInt(string(l.Seq), 10, 64)
	if err != nil || err1 != nil || err2 != nil {
		c.rec.mu.Lock()
		if c.rec.bad == "" {
			c.rec.bad = string(b)
		}
		c.rec.mu.Unlock()
		return
	}
	c.rec.add(pos{tx, seq})
}

// lineWriter calls line for every complete line written to it. exec.Cmd writes to it from one
// goroutine, so it needs no lock.
type lineWriter struct {
	line func([]byte)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if i > 0 {
			w.line(w.buf[:i])
		}
		w.buf = w.buf[i+1:]
	}
}
