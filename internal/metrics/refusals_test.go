package metrics_test

import (
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/metrics"
)

// TestRefusalsCounted: every Observer.Refused event counts in cdcstream_refusals_total under
// its RPC and reason.
func TestRefusalsCounted(t *testing.T) {
	m := metrics.New()
	obs := m.Observer()
	for range 8000 {
		obs.Refused("GetCursor", cdcstreamv1.ErrorReason_UNAUTHENTICATED)
	}
	obs.Refused("Subscribe", cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS)
	fams := gather(t, m.Registry().Gather)
	if got := value(fams, "cdcstream_refusals_total", map[string]string{"rpc": "GetCursor", "reason": "UNAUTHENTICATED"}); got != 8000 {
		t.Fatalf("GetCursor UNAUTHENTICATED = %v, want 8000", got)
	}
	if got := value(fams, "cdcstream_refusals_total", map[string]string{"rpc": "Subscribe", "reason": "TOO_MANY_SUBSCRIPTIONS"}); got != 1 {
		t.Fatalf("Subscribe TOO_MANY_SUBSCRIPTIONS = %v, want 1", got)
	}
	if n := len(fams["cdcstream_refusals_total"].GetMetric()); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
}
