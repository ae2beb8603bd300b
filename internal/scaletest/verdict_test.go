package scaletest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// simLog reads the database's whole CDC log as a client of the simulator would, with the
// neo4j-go-driver over Bolt: db.cdc.earliest(), then db.cdc.query() from it (exclusive, so the
// earliest change is the first row).
func simLog(t *testing.T, uri string) []pos {
	t.Helper()
	drv, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(simUser, simPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer drv.Close(ctx)
	sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: simDatabase, AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	out, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "CALL db.cdc.earliest() YIELD id RETURN id", nil)
		if err != nil {
			return nil, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return nil, err
		}
		res, err = tx.Run(ctx, "CALL db.cdc.query($from, []) YIELD txId, seq RETURN txId, seq", map[string]any{"from": rec.Values[0]})
		if err != nil {
			return nil, err
		}
		var log []pos
		for res.Next(ctx) {
			v := res.Record().Values
			log = append(log, pos{v[0].(int64), v[1].(int64)})
		}
		return log, res.Err()
	})
	if err != nil {
		t.Fatalf("reading the simulator's log: %v", err)
	}
	return out.([]pos)
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
