package neo4jcdc_test

import (
	"context"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/testkit"
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
		"int":       testkit.Int(math.MinInt64),
		"float":     {Kind: &cdcstreamv1.Value_FloatValue{FloatValue: -1.5}},
		"string":    testkit.String("grüß"),
		"bytes":     {Kind: &cdcstreamv1.Value_BytesValue{BytesValue: []byte{0, 1, 0xfe}}},
		"ints":      testkit.List(testkit.Int(1), testkit.Int(2)),
		"strings":   testkit.List(testkit.String("a"), testkit.String("b")),
		"date":      testkit.Date(2024, 1, 1),
		"dateOld":   testkit.Date(1, 1, 1),
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
		"dates":    testkit.List(testkit.Date(1970, 1, 1), testkit.Date(1970, 1, 2)),
	}

	var eid string
	txMeta := map[string]any{"app": "it", "n": int64(7), "day": neo4jsim.Date{EpochDays: 1}, "nothing": nil}
	txID := write(t, db, neo4jsim.Session{ExecutingUser: "alice", TxMetadata: txMeta}, func(tx *neo4jsim.Tx) error {
		var err error
		eid, err = tx.CreateNode([]string{"Thing"}, props)
		return err
	})

	batch := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: nil, Limit: 10}))(t)
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
			TxMetadata: map[string]*cdcstreamv1.Value{"app": testkit.String("it"), "n": testkit.Int(7), "day": testkit.Date(1970, 1, 2),
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

	batch := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: nil, Limit: 10}))(t)
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
		return map[string]*cdcstreamv1.LabelKeys{"Person": {Keys: []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"id": testkit.Int(id)}}}}}
	}
	props := map[string]*cdcstreamv1.Value{"rid": testkit.String("r1"), "since": testkit.Int(2020)}
	base := func(op cdcstreamv1.Operation) *cdcstreamv1.RelationshipEvent {
		return &cdcstreamv1.RelationshipEvent{
			ElementId: r, Operation: op, Type: "KNOWS",
			Start: &cdcstreamv1.NodeRef{ElementId: a, Labels: []string{"Person"}, Keys: personKeys(1)},
			End:   &cdcstreamv1.NodeRef{ElementId: b, Labels: []string{"Person"}, Keys: personKeys(2)},
			Keys:  []*cdcstreamv1.EntityKey{{Properties: map[string]*cdcstreamv1.Value{"rid": testkit.String("r1")}}},
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
			empty := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: c0, Selectors: nil, Limit: 10}))(t)
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
				b := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: nil, Limit: 10}))(t)
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
			tail := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: nil, Limit: 10}))(t)
			if len(tail.Changes) != 0 || tail.Current != head {
				t.Fatalf("poll at the head = %d changes, current %q; want 0, %q", len(tail.Changes), tail.Current, head)
			}
			// The head cursor resumes strictly after it.
			write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
				_, err := tx.CreateNode([]string{"N"}, map[string]any{"i": int64(99)})
				return err
			})
			next := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: tail.Current, Selectors: nil, Limit: 10}))(t)
			if len(next.Changes) != 1 || next.Changes[0].GetNode().GetAfter().GetProperties()["i"].GetIntegerValue() != 99 {
				t.Fatalf("poll from head after one write = %v, want the one new change", next.Changes)
			}
			// Earliest precedes every retained change.
			early := must(src.Earliest(ctx(t), "neo4j"))(t)
			first := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: early, Selectors: nil, Limit: 1}))(t)
			if len(first.Changes) != 1 {
				t.Fatalf("poll from earliest returned %d changes, want 1", len(first.Changes))
			}
			if err := src.Ping(ctx(t)); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}
