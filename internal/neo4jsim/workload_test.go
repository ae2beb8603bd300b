package neo4jsim

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

func runWorkload(t *testing.T, seed int64, steps int, opts ...WorkloadOption) (*Database, []Record) {
	t.Helper()
	db := newTestDB(t, ModeDiff)
	w := NewWorkload(db, seed, opts...)
	for range steps {
		if _, err := w.Step(); err != nil {
			t.Fatal(err)
		}
	}
	return db, mustQuery(t, db, mustEarliest(t, db))
}

func TestWorkloadDeterministic(t *testing.T) {
	_, a := runWorkload(t, 42, 200)
	_, b := runWorkload(t, 42, 200)
	_, c := runWorkload(t, 43, 200)
	ra, rb, rc := renderJSON(t, recordsAny(a)), renderJSON(t, recordsAny(b)), renderJSON(t, recordsAny(c))
	if ra != rb {
		t.Error("same seed, different change streams")
	}
	if ra == rc {
		t.Error("different seeds, same change stream")
	}
}

func recordsAny(recs []Record) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = r
	}
	return out
}

// TestWorkloadCoverage checks that a modest run exercises every feature the workload
// promises.
func TestWorkloadCoverage(t *testing.T) {
	db, recs := runWorkload(t, 7, 400, WithUser("alice"), WithTxMetadata(map[string]any{"team": "qa"}), WithMaxNodes(40))
	seen := map[string]bool{}
	perTx := map[int64]int{}
	for _, r := range recs {
		ev := r.Event
		perTx[r.TxID]++
		kind := fmt.Sprint(ev["eventType"], ev["operation"])
		seen[kind] = true
		if md := r.Metadata["txMetadata"].(map[string]any); md["team"] == "qa" && r.Metadata["authenticatedUser"] == "alice" {
			seen["metadata"] = true
		}
		if kind == "nu" {
			b, a := stateOf(ev, "before"), stateOf(ev, "after")
			if len(stringsOf(b["labels"])) > 0 {
				seen["label removed"] = true
			}
			if len(stringsOf(a["labels"])) > 0 {
				seen["label added"] = true
			}
			for k := range b["properties"].(map[string]any) {
				if _, ok := a["properties"].(map[string]any)[k]; !ok {
					seen["property removed"] = true
				}
			}
		}
		if kind == "nc" {
			for _, v := range stateOf(ev, "after")["properties"].(map[string]any) {
				seen[typeTag(v)] = true
			}
		}
		if kind == "rc" && len(ev["keys"].([]any)) > 0 {
			seen["relationship key"] = true
		}
		if k, ok := ev["keys"].(map[string]any); ok && len(k) > 0 {
			seen["node key"] = true
		}
	}
	for _, r := range recs {
		if perTx[r.TxID] > 1 {
			seen["multi-change tx"] = true
		}
		if r.Event["operation"] == opDelete && r.Event["eventType"] == "n" && perTx[r.TxID] > 1 {
			seen["detach delete"] = true
		}
	}
	for _, want := range []string{"nc", "nu", "nd", "rc", "ru", "rd", "metadata", "label added", "label removed",
		"property removed", "multi-change tx", "detach delete", "node key", "relationship key",
		"bool", "int", "int>2^53", "float", "string", "bytes", "list", "Date", "LocalTime", "Time",
		"LocalDateTime", "DateTime offset", "DateTime zone", "Duration", "Point2D", "Point3D"} {
		if !seen[want] {
			t.Errorf("workload never produced %s", want)
		}
	}
	if n := len(db.Snapshot().Nodes); n > 60 {
		t.Errorf("graph grew to %d nodes despite WithMaxNodes(40)", n)
	}
}

func typeTag(v any) string {
	switch x := v.(type) {
	case bool:
		return "bool"
	case int64:
		if x > 1<<53 || x < -(1<<53) {
			return "int>2^53"
		}
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case Date:
		return "Date"
	case LocalTime:
		return "LocalTime"
	case Time:
		return "Time"
	case LocalDateTime:
		return "LocalDateTime"
	case DateTime:
		if x.ZoneID != "" {
			return "DateTime zone"
		}
		return "DateTime offset"
	case Duration:
		return "Duration"
	case Point2D:
		return "Point2D"
	case Point3D:
		return "Point3D"
	}
	return fmt.Sprintf("%T", v)
}

func TestWorkloadRun(t *testing.T) {
	for _, rate := range []float64{0, 5000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			db := newTestDB(t, ModeFull)
			w := NewWorkload(db, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1) // Run's result
			go func() { done <- w.Run(ctx, rate) }()
			deadline := time.Now().Add(20 * time.Second)
			for db.LastTxID() < 30 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // polling with a deadline, not synchronising
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if db.LastTxID() < 30 {
				t.Fatalf("only %d transactions", db.LastTxID())
			}
		})
	}
}

// TestConcurrentQueries runs readers against a writer; with -race it checks the locking.
func TestConcurrentQueries(t *testing.T) {
	db := newTestDB(t, ModeFull)
	w := NewWorkload(db, 3)
	start := mustCurrent(t, db)
	var wg sync.WaitGroup
	stop := make(chan struct{}) // closed when the writer is done
	errs := make(chan error, 4) // first failure of each reader
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				recs, err := db.Query(admin, start, []any{map[string]any{"select": "n"}, map[string]any{"select": "r", "operation": "c"}})
				if err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(recs); i++ {
					if recs[i].TxID < recs[i-1].TxID || (recs[i].TxID == recs[i-1].TxID && recs[i].Seq <= recs[i-1].Seq) {
						errs <- fmt.Errorf("out of order at %d", i)
						return
					}
				}
				_ = db.Snapshot()
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	for range 300 {
		if _, err := w.Step(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkQuery measures db.cdc.query over a 100 000-change log.
func BenchmarkQuery(b *testing.B) {
	db := newTestDB(b, ModeFull)
	if err := db.CreateNodeKey("Person", "id"); err != nil {
		b.Fatal(err)
	}
	const total, perTx = 100_000, 10
	for i := range total / perTx {
		mustWrite(b, db, func(tx *Tx) error {
			for j := range perTx {
				id := int64(i*perTx + j)
				if _, err := tx.CreateNode([]string{"Person"}, map[string]any{"id": id, "name": "p", "score": math.Sqrt(float64(id))}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	from := mustEarliest(b, db)
	for _, bc := range []struct {
		name string
		sels []any
	}{
		{"all", nil},
		{"selector", []any{map[string]any{"select": "n", "labels": []any{"Person"}, "operation": "c"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rows := 0
			for b.Loop() {
				recs, err := db.QueryLimit(admin, from, bc.sels, total)
				if err != nil || len(recs) != total {
					b.Fatalf("%d records, %v", len(recs), err)
				}
				rows += len(recs)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "records/s")
		})
	}
	b.Run("resume-mid-log", func(b *testing.B) {
		recs := mustQuery(b, db, from)
		mid := recs[total/2].ID
		for b.Loop() {
			if got, err := db.QueryLimit(admin, mid, nil, 1000); err != nil || len(got) != 1000 {
				b.Fatal(err)
			}
		}
	})
}
