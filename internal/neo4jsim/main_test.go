package neo4jsim_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind. It is the package's only TestMain
// (internal and external test files share one test binary).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
