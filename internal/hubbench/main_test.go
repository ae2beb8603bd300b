package hubbench

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/cdcstream/cdcstream/internal/proctest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
