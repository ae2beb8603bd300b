package neo4jsim_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

const benchChanges = 100_000

var (
	benchOnce sync.Once
	benchDBMS *neo4jsim.DBMS
	benchFrom string
)

// benchServer serves a DBMS whose "neo4j" log holds 100 000 node creations, each with four
// properties, committed in transactions of 100.
func benchServer(b *testing.B) (*neo4jsim.Server, string) {
	b.Helper()
	benchOnce.Do(func() {
		benchDBMS = neo4jsim.NewDBMS(neo4jsim.Config{})
		db := benchDBMS.Database("neo4j")
		benchFrom, _ = db.Earliest()
		s := neo4jsim.Session{User: "neo4j", ClientAddr: "127.0.0.1:50000", ServerAddr: "127.0.0.1:7687",
			TxMetadata: map[string]any{"app": "bench"}}
		for done := 0; done < benchChanges; done += 100 {
			_, err := db.Write(s, func(tx *neo4jsim.Tx) error {
				for i := done; i < done+100; i++ {
					props := map[string]any{"id": int64(i), "name": fmt.Sprintf("person-%d", i), "score": float64(i) / 3,
						"born": neo4jsim.Date{EpochDays: int64(i % 20000)}}
					if _, err := tx.CreateNode([]string{"Person"}, props); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				panic(err)
			}
		}
	})
	srv, err := neo4jsim.NewServer(benchDBMS, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv, benchFrom
}

// BenchmarkDriverQuery measures how many db.cdc.query rows per second the real driver reads
// from the simulator: each iteration reads the whole 100 000-change log in polls of `batch`
// rows, the way the service polls (ExecuteRead, fetch size 1000).
func BenchmarkDriverQuery(b *testing.B) {
	type variant struct {
		batch    int64
		deadline bool // a context deadline makes the driver race every socket read in a new goroutine
	}
	for _, v := range []variant{{1000, false}, {10_000, false}, {benchChanges, false}, {1000, true}} {
		name := fmt.Sprintf("batch=%d", v.batch)
		if v.deadline {
			name += "/ctx-deadline"
		}
		batch := v.batch
		b.Run(name, func(b *testing.B) {
			srv, from := benchServer(b)
			ctx := context.Background()
			if v.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Hour)
				defer cancel()
			}
			drv := newDriver(b, srv.BoltURI(), neo4j.AuthToken{})
			sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: "neo4j", FetchSize: 1000})
			defer func() { _ = sess.Close(ctx) }()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			rows := 0
			for range b.N {
				cursor := from
				for {
					out, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
						res, err := tx.Run(ctx, cdcQuery, map[string]any{"from": cursor, "selectors": []any{}, "limit": batch})
						if err != nil {
							return nil, err
						}
						n, last := 0, ""
						for res.Next(ctx) {
							id, _ := res.Record().Get("id")
							last = id.(string)
							n++
						}
						return [2]any{n, last}, res.Err()
					})
					if err != nil {
						b.Fatal(err)
					}
					r := out.([2]any)
					n := r[0].(int)
					rows += n
					if n == 0 {
						break
					}
					cursor = r[1].(string)
				}
			}
			if rows != b.N*benchChanges {
				b.Fatalf("read %d rows, want %d", rows, b.N*benchChanges)
			}
			b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
			// CPU seconds of the whole process (driver and simulator): the measure that does
			// not depend on how busy the machine is.
			b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
		})
	}
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
