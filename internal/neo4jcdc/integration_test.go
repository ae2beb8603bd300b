package neo4jcdc_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// The tests in this file run the real driver against the simulator over TCP.

const (
	adminUser, adminPassword = "neo4j", "password"
	serverID                 = "5eb0c0de"
)

// commitTime is the simulator's fixed clock, so metadata times are exact.
var commitTime = time.UnixMilli(1709499116769)

// sim is one simulator and its DBMS.
type sim struct {
	srv  *neo4jsim.Server
	dbms *neo4jsim.DBMS
}

// startSim starts a simulator with an admin, a non-admin and databases "neo4j" and "other";
// it stops at cleanup.
func startSim(t testing.TB, mutate ...func(*neo4jsim.Config)) *sim {
	t.Helper()
	cfg := neo4jsim.Config{
		Users: []neo4jsim.User{
			{Name: adminUser, Password: adminPassword, Admin: true},
			{Name: "reader", Password: "secret"},
		},
		Databases: []string{"neo4j", "other"},
		ServerID:  serverID,
		Now:       func() time.Time { return commitTime },
	}
	for _, m := range mutate {
		m(&cfg)
	}
	dbms := neo4jsim.NewDBMS(cfg)
	srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing simulator: %v", err)
		}
	})
	return &sim{srv: srv, dbms: dbms}
}

// open opens a Source on uri as the admin, with short driver retries; it closes at cleanup.
func open(t testing.TB, uri string, opts ...neo4jcdc.Option) *neo4jcdc.Source {
	t.Helper()
	return openAs(t, uri, adminUser, adminPassword, opts...)
}

func openAs(t testing.TB, uri, user, password string, opts ...neo4jcdc.Option) *neo4jcdc.Source {
	t.Helper()
	opts = append([]neo4jcdc.Option{neo4jcdc.WithMaxRetryTime(300 * time.Millisecond)}, opts...)
	src, err := neo4jcdc.Open(context.Background(), uri, user, password, opts...)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", uri, user, err)
	}
	t.Cleanup(func() {
		if err := src.Close(context.Background()); err != nil {
			t.Errorf("closing source: %v", err)
		}
	})
	return src
}

// ctx returns a context that ends with the test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// write commits fn as user neo4j on db and fails the test on error.
func write(t testing.TB, db *neo4jsim.Database, s neo4jsim.Session, fn func(tx *neo4jsim.Tx) error) int64 {
	t.Helper()
	if s.User == "" {
		s.User = adminUser
	}
	txID, err := db.Write(s, fn)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return txID
}

// must returns v, or fails the test given to the returned function on err:
// must(src.Current(ctx, db))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestIntegrationEveryPropertyType(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	src := open(t, s.srv.BoltURI())
	from := must(src.Current(ctx(t), "neo4j"))(t)

	props := map[string]any{
		"bool":      true,
		"int":       int64(math.MinInt64),
		"float":     -1.5,
		"string":    "grüß",
		"bytes":     []byte{0, 1, 0xfe},
		"ints":      []any{int64(1), int64(2)},
		"strings":   []any{"a", "b"},
		"date":      neo4jsim.Date{EpochDays: 19723},
		"dateOld":   neo4jsim.Date{EpochDays: -719162},
		"localTime": neo4jsim.LocalTime{NanosOfDay: ((13*60+45)*60+30)*1e9 + 123456789},
		"time":      neo4jsim.Time{NanosOfDay: 8 * 3600 * 1e9, OffsetSeconds: -19800},
		"localDT":   neo4jsim.LocalDateTime{EpochSeconds: 1704067200 + 3661, Nanos: 42},
		"dtOffset":  neo4jsim.DateTime{EpochSeconds: 1704067200, Nanos: 7, OffsetSeconds: 7200},
		"dtZone":    neo4jsim.DateTime{EpochSeconds: 1719835200, Nanos: 999, ZoneID: "Europe/Stockholm"},
		"dtPre":     neo4jsim.DateTime{EpochSeconds: -86401, Nanos: 500, OffsetSeconds: -3600},
		"duration":  neo4jsim.Duration{Months: 14, Days: -3, Seconds: 3723, Nanos: 9},
		"point2d":   neo4jsim.Point2D{SRID: 4326, X: 12.97, Y: 55.6},
		"point3d":   neo4jsim.Point3D{SRID: 9157, X: 1, Y: 2, Z: 3},
		"dates":     []any{neo4jsim.Date{EpochDays: 0}, neo4jsim.Date{EpochDays: 1}},
	}
	z := 3.0
	want := map[string]*cdcstreamv1.Value{
		"bool":      {Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: true}},
		"int":       intV(math.MinInt64),
		"float":     {Kind: &cdcstreamv1.Value_FloatValue{FloatValue: -1.5}},
		"string":    strV("grüß"),
		"bytes":     {Kind: &cdcstreamv1.Value_BytesValue{BytesValue: []byte{0, 1, 0xfe}}},
		"ints":      listV(intV(1), intV(2)),
		"strings":   listV(strV("a"), strV("b")),
		"date":      dateV(2024, 1, 1),
		"dateOld":   dateV(1, 1, 1),
		"localTime": {Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: &cdcstreamv1.LocalTime{Hour: 13, Minute: 45, Second: 30, Nanos: 123456789}}},
		"time": {Kind: &cdcstreamv1.Value_TimeValue{TimeValue: &cdcstreamv1.Time{
			LocalTime: &cdcstreamv1.LocalTime{Hour: 8}, OffsetSeconds: -19800}}},
		"localDT": {Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
			Date: &cdcstreamv1.Date{Year: 2024, Month: 1, Day: 1}, Time: &cdcstreamv1.LocalTime{Hour: 1, Minute: 1, Second: 1, Nanos: 42}}}},
		"dtOffset": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: 1704067200, Nanos: 7}, Zone: &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: 7200}}}},
		"dtZone": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: 1719835200, Nanos: 999}, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}},
		"dtPre": {Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: -86401, Nanos: 500}, Zone: &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: -3600}}}},
		"duration": {Kind: &cdcstreamv1.Value_DurationValue{DurationValue: &cdcstreamv1.Duration{Months: 14, Days: -3, Seconds: 3723, Nanos: 9}}},
		"point2d":  {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 4326, X: 12.97, Y: 55.6}}},
		"point3d":  {Kind: &cdcstreamv1.Value_PointValue{PointValue: &cdcstreamv1.Point{Srid: 9157, X: 1, Y: 2, Z: &z}}},
		"dates":    listV(dateV(1970, 1, 1), dateV(1970, 1, 2)),
	}

	var eid string
	txMeta := map[string]any{"app": "it", "n": int64(7), "day": neo4jsim.Date{EpochDays: 1}, "nothing": nil}
	txID := write(t, db, neo4jsim.Session{ExecutingUser: "alice", TxMetadata: txMeta}, func(tx *neo4jsim.Tx) error {
		var err error
		eid, err = tx.CreateNode([]string{"Thing"}, props)
		return err
	})

	batch := must(src.Poll(ctx(t), "neo4j", from, nil, 10))(t)
	if len(batch.Changes) != 1 {
		t.Fatalf("Poll returned %d changes, want 1", len(batch.Changes))
	}
	got := batch.Changes[0]
	wantEvent := &cdcstreamv1.ChangeEvent{
		Cursor: &cdcstreamv1.Cursor{Id: got.GetCursor().GetId(), Database: "neo4j"},
		TxId:   txID,
		Seq:    0,
		Metadata: &cdcstreamv1.Metadata{
			ExecutingUser: "alice", AuthenticatedUser: adminUser, CaptureMode: cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL,
			ConnectionType: "bolt", ServerId: serverID, DatabaseName: "neo4j",
			TxStartTime: timestamppb.New(commitTime), TxCommitTime: timestamppb.New(commitTime),
			TxMetadata: map[string]*cdcstreamv1.Value{"app": strV("it"), "n": intV(7), "day": dateV(1970, 1, 2),
				"nothing": {Kind: &cdcstreamv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}},
		},
		Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: eid, Operation: cdcstreamv1.Operation_OPERATION_CREATE, Labels: []string{"Thing"},
			After: &cdcstreamv1.NodeState{Labels: []string{"Thing"}, Properties: want},
		}},
	}
	if got.GetCursor().GetId() == "" || got.GetCursor().GetId() == from {
		t.Fatalf("change cursor %q, want a fresh id", got.GetCursor().GetId())
	}
	for k, w := range want {
		if g := got.GetNode().GetAfter().GetProperties()[k]; !proto.Equal(g, w) {
			t.Errorf("property %s: got %v, want %v", k, g, w)
		}
	}
	if !proto.Equal(got, wantEvent) {
		t.Fatalf("change event\n got %v\nwant %v", got, wantEvent)
	}
}

func intV(i int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: i}}
}
func strV(s string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: s}}
}
func listV(vs ...*cdcstreamv1.Value) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{Values: vs}}}
}
func dateV(y, m, d int32) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateValue{DateValue: &cdcstreamv1.Date{Year: y, Month: m, Day: d}}}
}

func TestIntegrationKeysAndRelationships(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	if err := db.CreateNodeKey("Person", "id"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRelationshipKey("KNOWS", "rid"); err != nil {
		t.Fatal(err)
	}
	src := open(t, s.srv.RoutingURI())
	from := must(src.Current(ctx(t), "neo4j"))(t)
	var a, b, r string
	write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) (err error) {
		if a, err = tx.CreateNode([]string{"Person"}, map[string]any{"id": int64(1)}); err != nil {
			return err
		}
		if b, err = tx.CreateNode([]string{"Person"}, map[string]any{"id": int64(2)}); err != nil {
			return err
		}
		r, err = tx.CreateRelationship("KNOWS", a, b, map[string]any{"rid": "r1", "since": int64(2020)})
		return err
	})
	write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error { return tx.DeleteRelationship(r) })

	batch := must(src.Poll(ctx(t), "neo4j", from, nil, 10))(t)
	var rels []*cdcstreamv1.RelationshipEvent
	for _, c := range batch.Changes {
		if rel := c.GetRelationship(); rel != nil {
			rels = append(rels, rel)
		}
	}
	if len(rels) != 2 {
		t.Fatalf("got %d relationship events in %v, want 2", len(rels), batch.Changes)
	}
	personKeys := func(id int64) map[string]*cdcstreamv1.LabelKeys {
		return map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"id": intV(id)}}}}}
	}
	props := map[string]*cdcstreamv1.Value{"rid": strV("r1"), "since": intV(2020)}
	base := func(op cdcstreamv1.Operation) *cdcstreamv1.RelationshipEvent {
		return &cdcstreamv1.RelationshipEvent{
			ElementId: r, Operation: op, Type: "KNOWS",
			Start: &cdcstreamv1.NodeRef{ElementId: a, Labels: []string{"Person"}, Keys: personKeys(1)},
			End:   &cdcstreamv1.NodeRef{ElementId: b, Labels: []string{"Person"}, Keys: personKeys(2)},
			Keys:  []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"rid": strV("r1")}}},
		}
	}
	wantCreate := base(cdcstreamv1.Operation_OPERATION_CREATE)
	wantCreate.After = &cdcstreamv1.RelationshipState{Properties: props}
	wantDelete := base(cdcstreamv1.Operation_OPERATION_DELETE)
	wantDelete.Before = &cdcstreamv1.RelationshipState{Properties: props}
	if !proto.Equal(rels[0], wantCreate) {
		t.Errorf("create\n got %v\nwant %v", rels[0], wantCreate)
	}
	if !proto.Equal(rels[1], wantDelete) {
		t.Errorf("delete\n got %v\nwant %v", rels[1], wantDelete)
	}
	for _, c := range batch.Changes {
		if n := c.GetNode(); n != nil && len(n.GetKeys()["Person"].GetKeys()) != 1 {
			t.Errorf("node %s keys %v, want one Person key", n.GetElementId(), n.GetKeys())
		}
	}
}

func TestIntegrationPollBatchesAndCurrent(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	for _, mode := range []neo4jcdc.AccessMode{neo4jcdc.AccessRead, neo4jcdc.AccessWrite} {
		t.Run(mode.String(), func(t *testing.T) {
			src := open(t, s.srv.RoutingURI(), neo4jcdc.WithAccessMode(mode), neo4jcdc.WithFetchSize(3),
				neo4jcdc.WithTxTimeout(10*time.Second))
			c0 := must(src.Current(ctx(t), "neo4j"))(t)
			empty := must(src.Poll(ctx(t), "neo4j", c0, nil, 10))(t)
			if len(empty.Changes) != 0 || empty.Current != c0 {
				t.Fatalf("idle poll = %d changes, current %q; want 0, %q", len(empty.Changes), empty.Current, c0)
			}
			for i := range 25 {
				write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
					_, err := tx.CreateNode([]string{"N"}, map[string]any{"i": int64(i)})
					return err
				})
			}
			head := must(src.Current(ctx(t), "neo4j"))(t)
			if head == c0 {
				t.Fatal("Current did not move after writes")
			}
			var all []*cdcstreamv1.ChangeEvent
			from := c0
			for _, want := range []int{10, 10, 5} {
				b := must(src.Poll(ctx(t), "neo4j", from, nil, 10))(t)
				if len(b.Changes) != want {
					t.Fatalf("poll from %q: %d changes, want %d", from, len(b.Changes), want)
				}
				if b.Current != head {
					t.Fatalf("poll current %q, want head %q", b.Current, head)
				}
				all = append(all, b.Changes...)
				from = b.Changes[len(b.Changes)-1].GetCursor().GetId()
			}
			for i, c := range all {
				got := c.GetNode().GetAfter().GetProperties()["i"].GetIntegerValue()
				if got != int64(i) {
					t.Fatalf("change %d has i=%d: out of order", i, got)
				}
				if i > 0 && (c.GetTxId() < all[i-1].GetTxId() || c.GetTxId() == all[i-1].GetTxId() && c.GetSeq() <= all[i-1].GetSeq()) {
					t.Fatalf("change %d (%d,%d) not after (%d,%d)", i, c.GetTxId(), c.GetSeq(), all[i-1].GetTxId(), all[i-1].GetSeq())
				}
			}
			tail := must(src.Poll(ctx(t), "neo4j", from, nil, 10))(t)
			if len(tail.Changes) != 0 || tail.Current != head {
				t.Fatalf("poll at the head = %d changes, current %q; want 0, %q", len(tail.Changes), tail.Current, head)
			}
			// The head cursor resumes strictly after it.
			write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
				_, err := tx.CreateNode([]string{"N"}, map[string]any{"i": int64(99)})
				return err
			})
			next := must(src.Poll(ctx(t), "neo4j", tail.Current, nil, 10))(t)
			if len(next.Changes) != 1 || next.Changes[0].GetNode().GetAfter().GetProperties()["i"].GetIntegerValue() != 99 {
				t.Fatalf("poll from head after one write = %v, want the one new change", next.Changes)
			}
			// Earliest precedes every retained change.
			early := must(src.Earliest(ctx(t), "neo4j"))(t)
			first := must(src.Poll(ctx(t), "neo4j", early, nil, 1))(t)
			if len(first.Changes) != 1 {
				t.Fatalf("poll from earliest returned %d changes, want 1", len(first.Changes))
			}
			if err := src.Ping(ctx(t)); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

func TestIntegrationErrors(t *testing.T) {
	s := startSim(t, func(c *neo4jsim.Config) { c.Databases = []string{"neo4j", "other", "off"} })
	db := s.dbms.Database("neo4j")
	src := open(t, s.srv.BoltURI())
	c := ctx(t)
	before := must(src.Current(c, "neo4j"))(t)
	for i := range 5 {
		write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
			_, err := tx.CreateNode(nil, map[string]any{"i": int64(i)})
			return err
		})
	}
	b := must(src.Poll(c, "neo4j", before, nil, 2))(t)
	oldCursor := b.Changes[0].GetCursor().GetId()
	otherCursor := must(src.Current(c, "other"))(t)
	if err := s.dbms.Database("off").SetCaptureMode("OFF"); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
		for _, other := range []error{server.ErrInvalidCursor, server.ErrCursorExpired, server.ErrFutureCursor,
			server.ErrInvalidSelector, server.ErrCDCDisabled, server.ErrDatabaseNotFound, server.ErrNeo4jAuth, server.ErrNeo4jUnavailable} {
			if other != want && errors.Is(err, other) {
				t.Fatalf("err = %v is also %v", err, other)
			}
		}
	}
	poll := func(database, from string) error {
		_, err := src.Poll(c, database, from, nil, 10)
		return err
	}
	t.Run("garbage cursor", func(t *testing.T) { check(t, poll("neo4j", "not-a-cursor"), server.ErrInvalidCursor) })
	t.Run("cursor of another database", func(t *testing.T) { check(t, poll("neo4j", otherCursor), server.ErrInvalidCursor) })
	t.Run("CDC off", func(t *testing.T) {
		check(t, poll("off", ""), server.ErrCDCDisabled)
		_, err := src.Current(c, "off")
		check(t, err, server.ErrCDCDisabled)
		_, err = src.Earliest(c, "off")
		check(t, err, server.ErrCDCDisabled)
	})
	t.Run("unknown database", func(t *testing.T) {
		check(t, poll("nope", ""), server.ErrDatabaseNotFound)
		_, err := src.Current(c, "nope")
		check(t, err, server.ErrDatabaseNotFound)
	})
	t.Run("pruned cursor", func(t *testing.T) {
		db.Prune(1)
		check(t, poll("neo4j", oldCursor), server.ErrCursorExpired)
	})
	t.Run("future cursor", func(t *testing.T) {
		// A member that has not yet seen the cursor's transaction: a second DBMS with the
		// same store UUID and a shorter log.
		uuid := "0c0ffee0-0000-4000-8000-000000000001"
		ahead := startSim(t, func(c *neo4jsim.Config) { c.DatabaseUUIDs = map[string]string{"neo4j": uuid} })
		behind := startSim(t, func(c *neo4jsim.Config) { c.DatabaseUUIDs = map[string]string{"neo4j": uuid} })
		for range 3 {
			write(t, ahead.dbms.Database("neo4j"), neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
				_, err := tx.CreateNode(nil, nil)
				return err
			})
		}
		cur := must(open(t, ahead.srv.BoltURI()).Current(c, "neo4j"))(t)
		_, err := open(t, behind.srv.BoltURI()).Poll(c, "neo4j", cur, nil, 10)
		check(t, err, server.ErrFutureCursor)
	})
	t.Run("not an admin", func(t *testing.T) {
		reader := openAs(t, s.srv.BoltURI(), "reader", "secret")
		check(t, func() error { _, err := reader.Poll(c, "neo4j", "", nil, 10); return err }(), server.ErrNeo4jAuth)
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := neo4jcdc.Open(c, s.srv.BoltURI(), adminUser, "wrong")
		check(t, err, server.ErrNeo4jAuth)
	})
	t.Run("transient failure retried", func(t *testing.T) {
		retrying := open(t, s.srv.BoltURI(), neo4jcdc.WithMaxRetryTime(20*time.Second))
		head := must(retrying.Current(c, "neo4j"))(t)
		s.srv.FailNext(1, "Neo.TransientError.Transaction.DeadlockDetected", "injected")
		got, err := retrying.Poll(c, "neo4j", head, nil, 10)
		if err != nil || got.Current != head {
			t.Fatalf("Poll after one transient failure = %v, %v; want success at %q", got, err, head)
		}
	})
	t.Run("transient failures exhaust retries", func(t *testing.T) {
		s.srv.FailNext(1000, "Neo.TransientError.Transaction.DeadlockDetected", "injected")
		t.Cleanup(func() { s.srv.FailNext(0, "", "") })
		check(t, poll("neo4j", ""), server.ErrNeo4jUnavailable)
	})
	t.Run("dropped connections are redialled", func(t *testing.T) {
		head := must(src.Current(c, "neo4j"))(t)
		s.srv.DropConnections()
		got, err := src.Poll(c, "neo4j", head, nil, 10)
		if err != nil || got.Current != head {
			t.Fatalf("Poll after dropped connections = %v, %v; want success at %q", got, err, head)
		}
	})
	t.Run("through neo4j:// routing", func(t *testing.T) {
		routed := open(t, s.srv.RoutingURI())
		for _, tc := range []struct {
			database, from string
			want           error
		}{
			{"neo4j", "not-a-cursor", server.ErrInvalidCursor},
			{"neo4j", oldCursor, server.ErrCursorExpired},
			{"off", "", server.ErrCDCDisabled},
			{"nope", "", server.ErrDatabaseNotFound},
		} {
			_, err := routed.Poll(c, tc.database, tc.from, nil, 10)
			check(t, err, tc.want)
		}
		_, err := openAs(t, s.srv.RoutingURI(), "reader", "secret").Poll(c, "neo4j", "", nil, 10)
		check(t, err, server.ErrNeo4jAuth)
	})
	t.Run("caller cancels", func(t *testing.T) {
		cc, cancel := context.WithCancel(c)
		cancel()
		_, err := src.Poll(cc, "neo4j", "", nil, 10)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		if _, err := src.Poll(c, "neo4j", "", nil, 0); err == nil {
			t.Fatal("Poll with limit 0 succeeded")
		}
	})
	t.Run("simulator closed", func(t *testing.T) {
		gone := startSim(t)
		goneSrc := open(t, gone.srv.BoltURI())
		if err := goneSrc.Ping(c); err != nil {
			t.Fatalf("Ping before close: %v", err)
		}
		if err := gone.srv.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, poll2(c, goneSrc), server.ErrNeo4jUnavailable)
		check(t, goneSrc.Ping(c), server.ErrNeo4jUnavailable)
		_, err := neo4jcdc.Open(c, gone.srv.BoltURI(), adminUser, adminPassword)
		check(t, err, server.ErrNeo4jUnavailable)
	})
}

// TestIntegrationNew covers a caller-owned driver: New uses it, Close leaves it open, and a
// driver with a wrong password yields ErrNeo4jAuth from every call.
func TestIntegrationNew(t *testing.T) {
	s := startSim(t)
	c := ctx(t)
	newDriver := func(password string) neo4j.DriverWithContext {
		d, err := neo4j.NewDriverWithContext(s.srv.BoltURI(), neo4j.BasicAuth(adminUser, password, ""),
			func(cfg *config.Config) { cfg.MaxTransactionRetryTime = 300 * time.Millisecond })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := d.Close(context.Background()); err != nil {
				t.Errorf("closing driver: %v", err)
			}
		})
		return d
	}
	d := newDriver(adminPassword)
	src := neo4jcdc.New(d, neo4jcdc.WithTxTimeout(5*time.Second))
	head := must(src.Current(c, "neo4j"))(t)
	if err := src.Close(c); err != nil {
		t.Fatal(err)
	}
	if err := d.VerifyConnectivity(c); err != nil {
		t.Fatalf("the caller's driver was closed by Source.Close: %v", err)
	}
	if b, err := src.Poll(c, "neo4j", head, nil, 5); err != nil || b.Current != head {
		t.Fatalf("Poll = %v, %v", b, err)
	}

	bad := neo4jcdc.New(newDriver("wrong"))
	if err := bad.Ping(c); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Errorf("Ping with a wrong password: %v, want ErrNeo4jAuth", err)
	}
	if _, err := bad.Poll(c, "neo4j", head, nil, 5); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Errorf("Poll with a wrong password: %v, want ErrNeo4jAuth", err)
	}
	if _, err := bad.Earliest(c, "neo4j"); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Errorf("Earliest with a wrong password: %v, want ErrNeo4jAuth", err)
	}
}

func poll2(c context.Context, src *neo4jcdc.Source) error {
	_, err := src.Poll(c, "neo4j", "", nil, 10)
	return err
}

// TestIntegrationSelectors checks that every selector key filters as Neo4j's server-side
// selectors do, over a scenario of three transactions.
func TestIntegrationSelectors(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	for _, k := range [][]string{{"Person", "id"}, {"Company", "cid"}, {"Event", "day"}, {"Event", "at"}} {
		if err := db.CreateNodeKey(k[0], k[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateRelationshipKey("KNOWS", "rid"); err != nil {
		t.Fatal(err)
	}
	src := open(t, s.srv.BoltURI())
	from := must(src.Current(ctx(t), "neo4j"))(t)

	names := map[string]string{} // element id -> name
	ids := map[string]string{}   // name -> element id
	create := func(tx *neo4jsim.Tx, name string, labels []string, props map[string]any) error {
		id, err := tx.CreateNode(labels, props)
		names[id], ids[name] = name, id
		return err
	}
	relate := func(tx *neo4jsim.Tx, name, typ, a, b string, props map[string]any) error {
		id, err := tx.CreateRelationship(typ, ids[a], ids[b], props)
		names[id], ids[name] = name, id
		return err
	}
	day := neo4jsim.Date{EpochDays: 19723}
	at := neo4jsim.DateTime{EpochSeconds: 1719835200, ZoneID: "Europe/Stockholm"}
	// tx1: creates, authenticated and executing neo4j, tx metadata app=a.
	write(t, db, neo4jsim.Session{TxMetadata: map[string]any{"app": "a", "n": int64(1)}}, func(tx *neo4jsim.Tx) error {
		return errors.Join(
			create(tx, "A", []string{"Person"}, map[string]any{"id": int64(1), "name": "Ann"}),
			create(tx, "B", []string{"Person"}, map[string]any{"id": int64(2), "name": "Bob"}),
			create(tx, "C", []string{"Company"}, map[string]any{"cid": "acme"}),
			create(tx, "D", []string{"Event"}, map[string]any{"day": day, "at": at}),
			relate(tx, "R1", "KNOWS", "A", "B", map[string]any{"rid": int64(10), "since": int64(2020)}),
			relate(tx, "R2", "WORKS_AT", "A", "C", map[string]any{"role": "dev"}),
		)
	})
	// tx2: updates, executed by alice (impersonated), app=b.
	write(t, db, neo4jsim.Session{ExecutingUser: "alice", TxMetadata: map[string]any{"app": "b"}}, func(tx *neo4jsim.Tx) error {
		return errors.Join(
			tx.SetNodeProperty(ids["A"], "name", "Annie"),
			tx.SetRelationshipProperty(ids["R1"], "since", int64(2021)),
		)
	})
	// tx3: deletes and a label change, authenticated as "other".
	write(t, db, neo4jsim.Session{User: "other"}, func(tx *neo4jsim.Tx) error {
		return errors.Join(
			tx.DeleteRelationship(ids["R2"]),
			tx.DeleteNode(ids["C"], false),
			tx.AddLabels(ids["B"], "Hero"),
		)
	})

	ent := func(e *cdcstreamv1.EntitySelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: e}}
	}
	node := func(n *cdcstreamv1.NodeSelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: n}}
	}
	rel := func(r *cdcstreamv1.RelationshipSelector) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: r}}
	}
	const (
		opC = cdcstreamv1.Operation_OPERATION_CREATE
		opU = cdcstreamv1.Operation_OPERATION_UPDATE
		opD = cdcstreamv1.Operation_OPERATION_DELETE
	)
	dayV := dateV(2024, 1, 1)
	atV := &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
		Instant: &timestamppb.Timestamp{Seconds: 1719835200}, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}}}}
	kv := func(k string, v *cdcstreamv1.Value) map[string]*cdcstreamv1.Value {
		return map[string]*cdcstreamv1.Value{k: v}
	}
	cases := []struct {
		name string
		sels []func() *cdcstreamv1.Selector
		want []string // "name op" in transaction order, sorted within each transaction
	}{
		{"none: everything", nil, []string{"A c", "B c", "C c", "D c", "R1 c", "R2 c", "A u", "R1 u", "B u", "C d", "R2 d"}},
		{"entity create", sel(ent(&cdcstreamv1.EntitySelector{Operation: opC})), []string{"A c", "B c", "C c", "D c", "R1 c", "R2 c"}},
		{"entity update", sel(ent(&cdcstreamv1.EntitySelector{Operation: opU})), []string{"A u", "R1 u", "B u"}},
		{"entity delete", sel(ent(&cdcstreamv1.EntitySelector{Operation: opD})), []string{"C d", "R2 d"}},
		{"entity changesTo name", sel(ent(&cdcstreamv1.EntitySelector{ChangesTo: []string{"name"}})), []string{"A c", "B c", "A u"}},
		{"entity changesTo id+name", sel(ent(&cdcstreamv1.EntitySelector{ChangesTo: []string{"id", "name"}})), []string{"A c", "B c"}},
		{"entity executingUser", sel(ent(&cdcstreamv1.EntitySelector{ExecutingUser: "alice"})), []string{"A u", "R1 u"}},
		{"entity authenticatedUser", sel(ent(&cdcstreamv1.EntitySelector{AuthenticatedUser: "other"})), []string{"B u", "C d", "R2 d"}},
		{"entity txMetadata", sel(ent(&cdcstreamv1.EntitySelector{TxMetadata: map[string]*cdcstreamv1.Value{"app": strV("a"), "n": intV(1)}})),
			[]string{"A c", "B c", "C c", "D c", "R1 c", "R2 c"}},
		{"entity txMetadata no match", sel(ent(&cdcstreamv1.EntitySelector{TxMetadata: kv("n", intV(2))})), nil},
		{"node", sel(node(&cdcstreamv1.NodeSelector{})), []string{"A c", "B c", "C c", "D c", "A u", "B u", "C d"}},
		{"node labels", sel(node(&cdcstreamv1.NodeSelector{Labels: []string{"Person"}})), []string{"A c", "B c", "A u", "B u"}},
		{"node labels added", sel(node(&cdcstreamv1.NodeSelector{Labels: []string{"Person", "Hero"}})), []string{"B u"}},
		{"node elementId", func() []func() *cdcstreamv1.Selector {
			return sel(node(&cdcstreamv1.NodeSelector{ElementId: ids["C"]}))
		}(), []string{"C c", "C d"}},
		{"node key", sel(node(&cdcstreamv1.NodeSelector{Key: kv("id", intV(2))})), []string{"B c", "B u"}},
		{"node key date", sel(node(&cdcstreamv1.NodeSelector{Key: kv("day", dayV)})), []string{"D c"}},
		{"node key zoned datetime", sel(node(&cdcstreamv1.NodeSelector{Key: kv("at", atV)})), []string{"D c"}},
		{"node key wrong type", sel(node(&cdcstreamv1.NodeSelector{Key: kv("id", strV("2"))})), nil},
		{"node operation+changesTo+user", sel(node(&cdcstreamv1.NodeSelector{Operation: opU, ChangesTo: []string{"name"}, AuthenticatedUser: adminUser})), []string{"A u"}},
		{"relationship", sel(rel(&cdcstreamv1.RelationshipSelector{})), []string{"R1 c", "R2 c", "R1 u", "R2 d"}},
		{"relationship type", sel(rel(&cdcstreamv1.RelationshipSelector{Type: "KNOWS"})), []string{"R1 c", "R1 u"}},
		{"relationship start/end labels", sel(rel(&cdcstreamv1.RelationshipSelector{
			Start: &cdcstreamv1.NodeMatcher{Labels: []string{"Person"}}, End: &cdcstreamv1.NodeMatcher{Labels: []string{"Company"}}})),
			[]string{"R2 c", "R2 d"}},
		{"relationship end key", sel(rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{Key: kv("cid", strV("acme"))}})), []string{"R2 c", "R2 d"}},
		{"relationship key", sel(rel(&cdcstreamv1.RelationshipSelector{Key: kv("rid", intV(10))})), []string{"R1 c", "R1 u"}},
		{"relationship elementId", func() []func() *cdcstreamv1.Selector {
			return sel(rel(&cdcstreamv1.RelationshipSelector{ElementId: ids["R1"]}))
		}(), []string{"R1 c", "R1 u"}},
		{"relationship end elementId", func() []func() *cdcstreamv1.Selector {
			return sel(rel(&cdcstreamv1.RelationshipSelector{End: &cdcstreamv1.NodeMatcher{ElementId: ids["B"]}}))
		}(), []string{"R1 c", "R1 u"}},
		{"relationship changesTo+executingUser+txMetadata", sel(rel(&cdcstreamv1.RelationshipSelector{
			ChangesTo: []string{"since"}, ExecutingUser: "alice", TxMetadata: kv("app", strV("b"))})), []string{"R1 u"}},
		{"relationship delete by other", sel(rel(&cdcstreamv1.RelationshipSelector{Operation: opD, AuthenticatedUser: "other"})), []string{"R2 d"}},
		{"two selectors are OR, each change once", func() []func() *cdcstreamv1.Selector {
			return append(sel(node(&cdcstreamv1.NodeSelector{ElementId: ids["C"]})), sel(rel(&cdcstreamv1.RelationshipSelector{Type: "KNOWS"}), ent(&cdcstreamv1.EntitySelector{Operation: opD}))...)
		}(), []string{"C c", "R1 c", "R1 u", "C d", "R2 d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sels []*cdcstreamv1.Selector
			for _, f := range tc.sels {
				sels = append(sels, f())
			}
			b := must(src.Poll(ctx(t), "neo4j", from, sels, 100))(t)
			// Neo4j does not order the changes of one transaction causally, so within a
			// transaction the comparison is by name.
			var got []string
			txStart, lastTx := 0, int64(-1)
			for _, c := range b.Changes {
				if c.GetTxId() != lastTx {
					slices.Sort(got[txStart:])
					txStart, lastTx = len(got), c.GetTxId()
				}
				id, op := c.GetNode().GetElementId(), c.GetNode().GetOperation()
				if r := c.GetRelationship(); r != nil {
					id, op = r.GetElementId(), r.GetOperation()
				}
				got = append(got, names[id]+" "+strings.ToLower(strings.TrimPrefix(op.String(), "OPERATION_"))[:1])
			}
			slices.Sort(got[txStart:])
			if !slices.Equal(got, tc.want) {
				t.Fatalf("selectors %v\n got %v\nwant %v", sels, got, tc.want)
			}
		})
	}
}

// sel wraps selectors for the case table.
func sel(ss ...*cdcstreamv1.Selector) []func() *cdcstreamv1.Selector {
	out := make([]func() *cdcstreamv1.Selector, len(ss))
	for i, s := range ss {
		out[i] = func() *cdcstreamv1.Selector { return s }
	}
	return out
}

// BenchmarkPoll measures changes converted per second through Poll (driver decoding plus
// conversion) over a log of 20,000 node changes with nine properties each.
func BenchmarkPoll(b *testing.B) {
	s := startSim(b)
	db := s.dbms.Database("neo4j")
	src := open(b, s.srv.BoltURI(), neo4jcdc.WithMaxRetryTime(5*time.Second))
	c := context.Background()
	start := must(src.Current(c, "neo4j"))(b)
	const txs, perTx = 200, 100
	for i := range txs {
		write(b, db, neo4jsim.Session{TxMetadata: map[string]any{"app": "bench"}}, func(tx *neo4jsim.Tx) error {
			for j := range perTx {
				if _, err := tx.CreateNode([]string{"Item", "Bench"}, map[string]any{
					"id": int64(i*perTx + j), "name": fmt.Sprintf("item-%d", j), "price": 9.99, "active": true,
					"tags":    []any{"a", "b", "c"},
					"created": neo4jsim.DateTime{EpochSeconds: 1704067200 + int64(j), OffsetSeconds: 3600},
					"day":     neo4jsim.Date{EpochDays: 19723}, "loc": neo4jsim.Point2D{SRID: 4326, X: 1, Y: 2},
					"ttl": neo4jsim.Duration{Days: 1},
				}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	const limit = 1000
	from := start
	total := 0
	b.ResetTimer()
	for b.Loop() {
		batch, err := src.Poll(c, "neo4j", from, nil, limit)
		if err != nil {
			b.Fatal(err)
		}
		total += len(batch.Changes)
		if len(batch.Changes) < limit {
			from = start
		} else {
			from = batch.Changes[len(batch.Changes)-1].GetCursor().GetId()
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "changes/s")
}
