package hubbench

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The direct loop's statements: those of Neo4j's documented consumer loop (Neo4j's own CDC
// client runs current then query in one transaction; docs/performance.md, section "The hub:
// cost per subscriber", describes it), without a LIMIT: the documented loop reads everything
// after the cursor, and the driver streams it with its fetch size (1000).
const (
	directEarliest = "CALL db.cdc.earliest() YIELD id RETURN id"
	directCurrent  = "CALL db.cdc.current() YIELD id RETURN id"
	directQuery    = "CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event " +
		"RETURN id, txId, seq, metadata, event"
)

// directLoop is Neo4j's documented CDC poll loop, as a Go consumer writes it with
// neo4j-go-driver v5 and no cdcstream code: start at db.cdc.earliest(); then, in one read
// transaction per poll, db.cdc.current() followed by db.cdc.query($from, $selectors); move
// the cursor to the id of each record consumed, or to current when a poll returns nothing,
// and wait pollInterval only after an empty poll.
//
// What it touches per record is what a typical consumer touches before acting on a change:
// the id (its cursor), txId and seq (its order), and the event's eventType, operation and
// elementId. The driver has already decoded every value of the record (metadata, before and
// after states, every property), exactly as cdcstream's gRPC consumer has already decoded
// every field of the protobuf message it receives; neither side converts more.
type directLoop struct {
	driver       neo4j.DriverWithContext
	database     string
	pollInterval time.Duration
}

// directChange is what the direct loop consumes of a record.
type directChange struct {
	id                       string
	txID, seq                int64
	eventType, op, elementID string
}

// readFromEarliest reads from EARLIEST until it consumed want changes and returns their ids
// when keep is set.
func (d directLoop) readFromEarliest(ctx context.Context, want int, keep bool) ([]string, error) {
	session := d.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: d.database, AccessMode: neo4j.AccessModeRead})
	defer session.Close(ctx)
	from, err := neo4j.ExecuteRead(ctx, session, func(tx neo4j.ManagedTransaction) (string, error) {
		return singleID(ctx, tx, directEarliest)
	})
	if err != nil {
		return nil, fmt.Errorf("earliest: %w", err)
	}
	var ids []string
	got := 0
	for got < want {
		// One poll; the function may be retried by the driver, so it reports what it consumed
		// and the loop applies it only once the transaction succeeded.
		type poll struct {
			current, last string
			n             int
			ids           []string
		}
		p, err := neo4j.ExecuteRead(ctx, session, func(tx neo4j.ManagedTransaction) (poll, error) {
			var p poll
			cur, err := singleID(ctx, tx, directCurrent)
			if err != nil {
				return p, err
			}
			p.current = cur
			res, err := tx.Run(ctx, directQuery, map[string]any{"from": from, "selectors": []any{}})
			if err != nil {
				return p, err
			}
			for res.Next(ctx) {
				c, err := consumeRecord(res.Record())
				if err != nil {
					return p, err
				}
				p.last = c.id
				p.n++
				if keep {
					p.ids = append(p.ids, c.id)
				}
			}
			return p, res.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("poll from %s: %w", from, err)
		}
		got += p.n
		ids = append(ids, p.ids...)
		if p.n == 0 {
			from = p.current
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d.pollInterval):
			}
			continue
		}
		from = p.last
	}
	return ids, nil
}

// singleID runs a statement yielding one id and returns it.
func singleID(ctx context.Context, tx neo4j.ManagedTransaction, stmt string) (string, error) {
	res, err := tx.Run(ctx, stmt, nil)
	if err != nil {
		return "", err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return "", err
	}
	id, _, err := neo4j.GetRecordValue[string](rec, "id")
	return id, err
}

// consumeRecord takes from a db.cdc.query record what a typical consumer uses.
func consumeRecord(rec *neo4j.Record) (directChange, error) {
	var c directChange
	var err error
	if c.id, _, err = neo4j.GetRecordValue[string](rec, "id"); err != nil {
		return c, err
	}
	if c.txID, _, err = neo4j.GetRecordValue[int64](rec, "txId"); err != nil {
		return c, err
	}
	if c.seq, _, err = neo4j.GetRecordValue[int64](rec, "seq"); err != nil {
		return c, err
	}
	event, _, err := neo4j.GetRecordValue[map[string]any](rec, "event")
	if err != nil {
		return c, err
	}
	var ok1, ok2, ok3 bool
	c.eventType, ok1 = event["eventType"].(string)
	c.op, ok2 = event["operation"].(string)
	c.elementID, ok3 = event["elementId"].(string)
	if !ok1 || !ok2 || !ok3 {
		return c, fmt.Errorf("change %s: event without eventType, operation or elementId: %v", c.id, event)
	}
	return c, nil
}
