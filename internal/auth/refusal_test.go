package auth_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/server"
)

// unauthCounter counts UNAUTHENTICATED refusals reported through Observer.Refused.
type unauthCounter struct {
	server.NopObserver
	n atomic.Int64
}

func (c *unauthCounter) Refused(rpc string, reason cdcstreamv1.ErrorReason) {
	if rpc == "GetCursor" && reason == cdcstreamv1.ErrorReason_UNAUTHENTICATED {
		c.n.Add(1)
	}
}

// TestUnauthenticatedFloodSampled: 8 000 calls without a token, in process, are all counted
// through the observer, while the log gets a handful of lines (10 per second, plus one line
// per second counting the rest), not 8 000.
func TestUnauthenticatedFloodSampled(t *testing.T) {
	const calls = 8000
	ts, err := auth.ParseTokens([]byte(`[{"name":"app","token":"` + tokenApp + `","databases":["*"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	logs := &proctest.Log{}
	counter := &unauthCounter{}
	ai := auth.NewInterceptors(auth.NewStore(ts), auth.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		auth.WithObserver(counter))
	intercept := ai.UnaryInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: cdcstreamv1.ChangeStreamService_GetCursor_FullMethodName}
	handler := func(context.Context, any) (any, error) {
		t.Fatal("unauthenticated call reached the service")
		return nil, nil
	}
	for range calls {
		if _, err := intercept(context.Background(), &cdcstreamv1.GetCursorRequest{}, info, handler); err == nil {
			t.Fatal("call without a token accepted")
		}
	}
	if got := counter.n.Load(); got != calls {
		t.Fatalf("%d refusals counted, want %d", got, calls)
	}
	lines := strings.Count(logs.String(), "\n")
	if lines < 10 || lines > 100 {
		t.Fatalf("%d log lines for %d refusals:\n%s", lines, calls, logs.String())
	}
	if strings.Count(logs.String(), `msg="call refused"`) < 10 {
		t.Fatalf("the first refusals are not logged:\n%s", logs.String())
	}
}
