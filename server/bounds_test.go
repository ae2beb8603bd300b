package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// firstViolation returns err's code, ErrorInfo reason and first BadRequest violation.
func firstViolation(t *testing.T, err error) (codes.Code, string, *errdetails.BadRequest_FieldViolation) {
	t.Helper()
	d := testkit.StatusDetails(t, err)
	var v *errdetails.BadRequest_FieldViolation
	if vs := d.BadRequest.GetFieldViolations(); len(vs) > 0 {
		v = vs[0]
	}
	return d.Code, d.RawReason, v
}

func entitySelector(md map[string]*cdcstreamv1.Value) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{TxMetadata: md}}}
}

// TestHugeSelectorsRefusedBeforeNeo4j: a 2.8 MB tx_metadata selector is INVALID_ARGUMENT
// naming the byte limit, for every one of 40 attempts, without a Neo4j call or a
// subscription slot held. (The selector has 2 800 entries of 1 KB rather than the attack's
// 100 000 small ones: the bound is on bytes, checked before any per-entry work, and the race
// detector makes building and encoding 100 000 entries 40 times too slow for a unit test.)
func TestHugeSelectorsRefusedBeforeNeo4j(t *testing.T) {
	src := servertest.NewFakeSource("neo4j")
	srv, err := server.New(src)
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	md := make(map[string]*cdcstreamv1.Value, 2800)
	for i := range 2800 {
		md["key-"+itoa(i)] = testkit.String(strings.Repeat("v", 1000))
	}
	req := &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{entitySelector(md)}}
	for i := range 40 {
		st, err := client.Subscribe(ctx, req)
		if err == nil {
			_, err = st.Recv()
		}
		code, reason, v := firstViolation(t, err)
		if code != codes.InvalidArgument || reason != cdcstreamv1.ErrorReason_INVALID_SELECTOR.String() ||
			v.GetField() != "selectors" || !strings.Contains(v.GetDescription(), "limit of 65536 bytes") {
			t.Fatalf("attempt %d: %v (reason %s, violation %v)", i, err, reason, v)
		}
	}
	if n := src.Calls(servertest.MethodCurrent) + src.Calls(servertest.MethodPoll); n != 0 {
		t.Fatalf("%d Neo4j calls for refused requests", n)
	}
	if a := srv.Stats().ActiveSubscriptions; a != 0 {
		t.Fatalf("%d subscriptions active after refusals", a)
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// TestLongKeyEchoFitsAHeaderLimit: a 60 KB selector key is refused with a proper
// INVALID_ARGUMENT even for a client whose header limit is 8 KiB (Netty's default): the key
// is echoed cut to a few dozen bytes.
func TestLongKeyEchoFitsAHeaderLimit(t *testing.T) {
	srv, err := server.New(servertest.NewFakeSource("neo4j"))
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := testkit.Serve(t, srv.Register, testkit.DialOptions(grpc.WithMaxHeaderListSize(8192)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	long := strings.Repeat("é", 30000) // 60 000 bytes
	st, err := cdcstreamv1.NewChangeStreamServiceClient(cc).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Selectors: []*cdcstreamv1.Selector{entitySelector(map[string]*cdcstreamv1.Value{long: testkit.String("x")})}})
	if err == nil {
		_, err = st.Recv()
	}
	code, reason, v := firstViolation(t, err)
	if code != codes.InvalidArgument || reason != cdcstreamv1.ErrorReason_INVALID_SELECTOR.String() {
		t.Fatalf("got %v (reason %q), want INVALID_ARGUMENT INVALID_SELECTOR", err, reason)
	}
	if len(v.GetField()) > 200 || !strings.HasPrefix(v.GetField(), `selectors[0].entity.tx_metadata["éé`) ||
		!strings.Contains(v.GetDescription(), "60000 bytes exceeds the limit of 1024") {
		t.Fatalf("violation %q: %q", v.GetField(), v.GetDescription())
	}
	if len(status.Convert(err).Message()) > 1024 {
		t.Fatalf("message of %d bytes", len(status.Convert(err).Message()))
	}
}

// TestValuesValidatedBeforeTheStream: a zone id Neo4j does not know and an instant outside
// its DateTime range are INVALID_ARGUMENT at once, naming the field, even for an idle
// database; zone ids Neo4j accepts pass.
func TestValuesValidatedBeforeTheStream(t *testing.T) {
	src := servertest.NewFakeSource("neo4j")
	srv, err := server.New(src)
	if err != nil {
		t.Fatal(err)
	}
	client := serveLoopback(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dt := func(sec int64, zone string) *cdcstreamv1.Value {
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: &cdcstreamv1.DateTime{
			Instant: &timestamppb.Timestamp{Seconds: sec}, Zone: &cdcstreamv1.DateTime_ZoneId{ZoneId: zone}}}}
	}
	subscribe := func(v *cdcstreamv1.Value) error {
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		st, err := client.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{
			Selectors: []*cdcstreamv1.Selector{entitySelector(map[string]*cdcstreamv1.Value{"at": v})}})
		if err == nil {
			_, err = st.Recv() // the opening checkpoint, or the refusal
		}
		return err
	}
	for _, c := range []struct {
		value *cdcstreamv1.Value
		field string // "" means accepted
	}{
		{dt(0, "Not/AZone"), `selectors[0].entity.tx_metadata["at"].date_time_value.zone_id`},
		{dt(0, "Local"), `selectors[0].entity.tx_metadata["at"].date_time_value.zone_id`},
		{dt(0, "../../etc/passwd"), `selectors[0].entity.tx_metadata["at"].date_time_value.zone_id`},
		{dt(1<<62, "UTC"), `selectors[0].entity.tx_metadata["at"].date_time_value.instant.seconds`},
		{dt(0, "Europe/Stockholm"), ""},
		{dt(0, "America/Argentina/Buenos_Aires"), ""},
		{dt(0, "+01:00"), ""},
		{dt(0, "UTC+1"), ""},
		{dt(0, "Z"), ""},
	} {
		err := subscribe(c.value)
		if c.field == "" {
			if err != nil {
				t.Errorf("%v refused: %v", c.value, err)
			}
			continue
		}
		code, _, v := firstViolation(t, err)
		if code != codes.InvalidArgument || v.GetField() != c.field {
			t.Errorf("%v: %v (field %q), want INVALID_ARGUMENT naming %s", c.value, err, v.GetField(), c.field)
		}
	}
	if n := src.Calls(servertest.MethodPoll); n != 0 {
		t.Fatalf("%d polls: values were checked against Neo4j, not before the stream", n)
	}
}
