package server_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// FuzzMatch feeds arbitrary selectors and changes (protobuf wire bytes) to the matcher. It
// must never panic, and the union must agree with the selectors one by one: a change
// matches the list exactly when it matches one of its selectors, and the index Match
// returns is that of the first.
func FuzzMatch(f *testing.F) {
	for _, ev := range []*cdcstreamv1.ChangeEvent{created, deleted, fullUpdate, diffUpdate, diffUpdateTopAfter, relCreated, relUpdated} {
		evb, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range benchSelectors() {
			sb, err := proto.Marshal(&cdcstreamv1.SubscribeRequest{Selectors: sel(s, entitySel(&cdcstreamv1.EntitySelector{Operation: opU}))})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(sb, evb)
		}
	}
	f.Fuzz(func(t *testing.T, selBytes, evBytes []byte) {
		var req cdcstreamv1.SubscribeRequest
		var ev cdcstreamv1.ChangeEvent
		if proto.Unmarshal(selBytes, &req) != nil || proto.Unmarshal(evBytes, &ev) != nil {
			return
		}
		sels := req.GetSelectors()
		m, err := server.NewMatcher(sels)
		if err != nil {
			return // validation refuses such selectors before a matcher is built
		}
		i, ok := m.Match(&ev)
		first := -1
		for j, s := range sels {
			one, err := server.NewMatcher(sel(s))
			if err != nil {
				t.Fatalf("selector %d compiles in a list but not alone: %v", j, err)
			}
			if _, hit := one.Match(&ev); hit {
				first = j
				break
			}
		}
		if len(sels) == 0 {
			if i != 0 || !ok {
				t.Fatalf("no selectors: Match = (%d, %v), want (0, true)", i, ok)
			}
			return
		}
		if i != first || ok != (first >= 0) {
			t.Fatalf("Match = (%d, %v), selectors one by one: first match %d", i, ok, first)
		}
	})
}
