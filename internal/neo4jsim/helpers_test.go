package neo4jsim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"
)

// tb is the part of testing.TB the helpers need; *rapid.T has it too.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

const testUUID = "741ce592-19fc-4a39-bf9c-6c38d568f0a5"

var admin = User{Name: "neo4j", Password: "password", Admin: true}

// stepClock is a deterministic clock: every call returns the previous time plus step.
type stepClock struct {
	mu   sync.Mutex // guards t
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// newTestDB returns the "neo4j" database of a DBMS with fixed uuid, server id and clock.
func newTestDB(t tb, mode string) *Database {
	t.Helper()
	clk := &stepClock{t: time.Date(2024, 3, 3, 20, 51, 56, 659e6, time.UTC), step: 55 * time.Millisecond}
	d := NewDBMS(Config{
		CaptureMode:   mode,
		ServerID:      "7528cb82",
		Now:           clk.Now,
		DatabaseUUIDs: map[string]string{"neo4j": testUUID},
		Users:         []User{admin, {Name: "reader", Password: "r"}},
		Databases:     []string{"neo4j", "other"},
	})
	db := d.Database("neo4j")
	if db == nil || db.UUID() != testUUID {
		t.Fatalf("database setup failed")
	}
	return db
}

// sampleSession is the connection of the documented samples.
var sampleSession = Session{
	User:       "neo4j",
	ClientAddr: "192.168.65.1:46246",
	ServerAddr: "172.17.0.2:7687",
	TxMetadata: map[string]any{"app": "cypher-shell_v5.6.0", "type": "user-direct"},
}

func mustWrite(t tb, db *Database, fn func(tx *Tx) error) int64 {
	t.Helper()
	id, err := db.Write(sampleSession, fn)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return id
}

func mustQuery(t tb, db *Database, from string, sels ...any) []Record {
	t.Helper()
	recs, err := db.Query(admin, from, sels)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return recs
}

func mustEarliest(t tb, db *Database) string {
	t.Helper()
	id, err := db.Earliest()
	if err != nil {
		t.Fatalf("earliest: %v", err)
	}
	return id
}

func mustCurrent(t tb, db *Database) string {
	t.Helper()
	id, err := db.Current()
	if err != nil {
		t.Fatalf("current: %v", err)
	}
	return id
}

// render turns a record into a JSON-able tree: DateTime at offset 0 as an ISO string with
// milliseconds (as the docs show them), other non-JSON values as tagged strings.
func render(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprintf("float(%v)", x)
		}
		return x
	case []byte:
		return "bytes(" + hex.EncodeToString(x) + ")"
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = render(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = render(e)
		}
		return out
	case DateTime:
		if x.OffsetSeconds == 0 && x.ZoneID == "" {
			return time.Unix(x.EpochSeconds, x.Nanos).UTC().Format("2006-01-02T15:04:05.000Z")
		}
		return fmt.Sprintf("%#v", x)
	case Record:
		return map[string]any{"id": x.ID, "txId": x.TxID, "seq": x.Seq, "metadata": render(x.Metadata), "event": render(x.Event)}
	}
	return fmt.Sprintf("%#v", v)
}

func renderJSON(t tb, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(render(v), "", "  ")
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return string(b) + "\n"
}
