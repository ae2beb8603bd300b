package e2e

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// TestOriginExclusion: a bidirectional sync's own writes (transactions tagged with metadata
// origin=sync by the writer's driver) do not come back to it, with the shared tail and
// without it, while the application's writes do; the cursor still moves past the excluded
// transactions; a selector on the same metadata, and a consumer without exclusion, still see
// them.
func TestOriginExclusion(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared-tail=%v", shared), func(t *testing.T) {
			tg := newSimTarget(t)
			s := newStack(t, tg, server.WithSharedTail(shared))
			head := s.cursorNow(t)
			sync := map[string]*cdcstreamv1.Value{"origin": testkit.String("sync")}
			excluding := s.subscribe(t, &cdcstreamv1.SubscribeRequest{ExcludeTxMetadata: sync,
				Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: head}, CheckpointInterval: s1()})
			everything := s.subscribeFrom(t, head)
			write := func(origin, label string) {
				tg.write(t, map[string]any{"origin": origin}, func(w writer) { w.createNode([]string{label}, nil) })
			}
			write("sync", "FromSync")
			write("app", "FromApp")
			write("sync", "FromSync")
			write("app", "Last")
			write("sync", "FromSync") // committed before anyone reads: nothing lies between Last and it
			var labels []string
			var last *cdcstreamv1.Cursor
			for _, ev := range excluding.changes(2) {
				labels = append(labels, ev.GetNode().GetLabels()[0])
				last = ev.GetCursor()
			}
			if fmt.Sprint(labels) != "[FromApp Last]" {
				t.Fatalf("with origin exclusion: %v, want only the application's writes", labels)
			}
			if n := len(everything.changes(5)); n != 5 {
				t.Fatalf("without exclusion: %d changes", n)
			}
			// Only an excluded transaction follows Last: a checkpoint moves past it.
			var past *cdcstreamv1.Cursor
			for past == nil {
				msg := excluding.next()
				if ev := msg.GetChange(); ev != nil {
					t.Fatalf("an excluded change was sent: %v", ev)
				}
				if c := msg.GetCheckpoint().GetCursor(); c != nil && c.GetId() != last.GetId() {
					past = c
				}
			}
			write("app", "Final")
			if got := s.subscribeFrom(t, past).changes(1)[0].GetNode().GetLabels()[0]; got != "Final" {
				t.Fatalf("the checkpoint after the excluded transaction is followed by %s, want Final", got)
			}
		})
	}
}

// TestOriginExclusionValidated: a null value cannot be excluded on (it never equals anything),
// and the error names the entry.
func TestOriginExclusionValidated(t *testing.T) {
	tg := newSimTarget(t)
	s := newStack(t, tg)
	sub := s.subscribe(t, &cdcstreamv1.SubscribeRequest{ExcludeTxMetadata: map[string]*cdcstreamv1.Value{"origin": {}}})
	err, _ := sub.recvErr()
	wantStatus(t, err, codes.InvalidArgument, "INVALID_SELECTOR")
}
