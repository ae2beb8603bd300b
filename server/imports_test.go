package server_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces ARCHITECTURE.md section 2: server depends on gen, grpc and
// genproto's errdetails, never on the Neo4j driver, neo4jcdc, neo4jsim or the client.
func TestImportRules(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	for _, pkg := range []string{".", "./servertest"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, banned := range []string{
				"github.com/neo4j/neo4j-go-driver",
				"github.com/cdcstream/cdcstream/internal/",
				"github.com/cdcstream/cdcstream/client",
			} {
				if strings.HasPrefix(dep, banned) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
