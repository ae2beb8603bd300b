package neo4jcdc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: every driver the tests
// create is closed in t.Cleanup, and every simulator stops itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
