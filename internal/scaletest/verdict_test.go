package scaletest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// logPage is how many changes a logReader reads per transaction.
const logPage = 5000

// simLog reads the database's whole CDC log, as logReader.more does once.
func simLog(t *testing.T, uri string) []pos {
	t.Helper()
	r := newLogReader(t, uri)
	return r.more(t)
}

// logReader reads a database's CDC log as a client of the simulator would, with the
// neo4j-go-driver over Bolt: db.cdc.earliest(), then db.cdc.query() from it (exclusive, so the
// earliest change is the first row), page by page, each page from the last id of the one
// before and in its own read transaction. Each call of more continues where the last one
// stopped, so a test can follow a growing log cheaply.
type logReader struct {
	drv neo4j.DriverWithContext
	// from is the id the next page starts after.
	from any
	// log is everything read so far.
	log []pos
}

func newLogReader(t *testing.T, uri string) *logReader {
	t.Helper()
	drv, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(simUser, simPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close(context.Background()) })
	r := &logReader{drv: drv}
	recs, err := r.read("CALL db.cdc.earliest() YIELD id RETURN id", nil)
	if err != nil || len(recs) != 1 {
		t.Fatalf("db.cdc.earliest(): %v (%d rows)", err, len(recs))
	}
	r.from = recs[0].Values[0]
	return r
}

// more reads pages until one is not full (the workload goes on, so that is the log up to
// some point) and returns everything read so far.
func (r *logReader) more(t *testing.T) []pos {
	t.Helper()
	for {
		recs, err := r.read("CALL db.cdc.query($from, []) YIELD id, txId, seq RETURN id, txId, seq LIMIT $limit",
			map[string]any{"from": r.from, "limit": logPage})
		if err != nil {
			t.Fatalf("reading the simulator's log after %d changes: %v", len(r.log), err)
		}
		for _, rec := range recs {
			r.log = append(r.log, pos{rec.Values[1].(int64), rec.Values[2].(int64)})
		}
		if len(recs) > 0 {
			r.from = recs[len(recs)-1].Values[0]
		}
		if len(recs) < logPage {
			return append([]pos(nil), r.log...)
		}
	}
}

// read runs one read query, retrying on any error: the driver retries transient failures and
// lost connections itself, but not a transaction whose connection was cut during COMMIT (it
// cannot know whether a write committed); these are reads, so running them again is safe.
func (r *logReader) read(query string, params map[string]any) ([]*neo4j.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	for range 20 {
		var recs []*neo4j.Record
		if recs, err = r.readOnce(ctx, query, params); err == nil || ctx.Err() != nil {
			return recs, err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, err
}

func (r *logReader) readOnce(ctx context.Context, query string, params map[string]any) ([]*neo4j.Record, error) {
	sess := r.drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: simDatabase, AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	out, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, query, params)
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	})
	if err != nil {
		return nil, err
	}
	return out.([]*neo4j.Record), nil
}

// comparison is one consumer's delivery compared with the log up to its last change.
type comparison struct {
	name string
	// delivered counts the changes delivered up to and including the log's last change.
	delivered int
	// lost counts log changes never delivered.
	lost int
	// repeated counts deliveries of a change delivered before.
	repeated int
	// disordered counts deliveries not after the one before (repeats excluded).
	disordered int
	// unknown counts deliveries the log does not hold.
	unknown int
	// first describes the first discrepancy, for the failure message.
	first string
}

// ok reports that nothing was lost, repeated, out of order or unknown, against a log that was
// not empty.
func (c comparison) ok() bool {
	return c.first == "" && c.lost == 0 && c.repeated == 0 && c.disordered == 0 && c.unknown == 0
}

func (c comparison) String() string {
	return fmt.Sprintf("%s: delivered=%d lost=%d repeated=%d out-of-order=%d unknown=%d", c.name, c.delivered, c.lost, c.repeated, c.disordered, c.unknown)
}

// compare checks got (a consumer's deliveries, in order) against log. Deliveries after the
// log's last change are ignored: the workload goes on while the log is read.
func compare(name string, log, got []pos) comparison {
	c := comparison{name: name}
	if len(log) == 0 {
		c.first = "the log is empty"
		return c
	}
	inLog := make(map[pos]bool, len(log))
	for _, p := range log {
		inLog[p] = true
	}
	end := log[len(log)-1]
	seen := make(map[pos]bool, len(log))
	var prev *pos
	note := func(format string, args ...any) {
		if c.first == "" {
			c.first = fmt.Sprintf(format, args...)
		}
	}
	for i, p := range got {
		if end.less(p) {
			break
		}
		c.delivered++
		switch {
		case seen[p]:
			c.repeated++
			note("delivery %d (tx %d, seq %d) repeats an earlier one", i, p.tx, p.seq)
			continue
		case !inLog[p]:
			c.unknown++
			note("delivery %d (tx %d, seq %d) is not in the log", i, p.tx, p.seq)
		case prev != nil && !prev.less(p):
			c.disordered++
			note("delivery %d (tx %d, seq %d) after (tx %d, seq %d)", i, p.tx, p.seq, prev.tx, prev.seq)
		}
		seen[p] = true
		prev = &got[i]
	}
	for _, p := range log {
		if !seen[p] {
			c.lost++
			note("log change (tx %d, seq %d) never delivered", p.tx, p.seq)
		}
	}
	return c
}

// restartRepeats splits got at the indices where a restarted consumer process began. It
// returns, per restart, how many of the new process's deliveries were delivered before (the
// changes printed but not yet checkpointed when the process was killed), and how many
// deliveries within one process were not after the one before it (the client library must
// make that zero).
func restartRepeats(got []pos, starts []int) (perRestart []int, withinProcess int) {
	bounds := append(append([]int{0}, starts...), len(got))
	var high *pos // the newest change delivered by the processes before
	for k := 0; k+1 < len(bounds); k++ {
		seg := got[bounds[k]:bounds[k+1]]
		repeats := 0
		for i, p := range seg {
			if i > 0 && !seg[i-1].less(p) {
				withinProcess++
			}
			if high != nil && !high.less(p) {
				repeats++
			}
		}
		if k > 0 {
			perRestart = append(perRestart, repeats)
		}
		for i := range seg {
			if high == nil || high.less(seg[i]) {
				high = &seg[i]
			}
		}
	}
	return perRestart, withinProcess
}
