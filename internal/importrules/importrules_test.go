package importrules

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/cdcstream/cdcstream"

// rule says which module-internal and third-party packages a package (and its dependencies)
// may reach.
type rule struct {
	pkg string
	// forbidden are import path prefixes that must not appear among the package's deps.
	forbidden []string
	// stdlibOnly demands that every non-module dependency is from the standard library.
	stdlibOnly bool
	// allowedThirdParty, when set, lists the only third-party prefixes allowed.
	allowedThirdParty []string
}

var rules = []rule{
	{pkg: mod + "/gen/cdcstream/v1", allowedThirdParty: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "golang.org/x/", "google.golang.org/genproto/googleapis/rpc"}},
	{pkg: mod + "/server", forbidden: []string{"github.com/neo4j/", mod + "/internal/neo4jcdc", mod + "/internal/neo4jsim", mod + "/client"}},
	{pkg: mod + "/internal/neo4jcdc", forbidden: []string{mod + "/internal/neo4jsim", mod + "/client"}},
	{pkg: mod + "/internal/neo4jsim", stdlibOnly: true},
	{pkg: mod + "/client", forbidden: []string{"github.com/neo4j/", mod + "/server", mod + "/internal/"},
		allowedThirdParty: []string{"google.golang.org/protobuf", "google.golang.org/grpc", "golang.org/x/", "google.golang.org/genproto/googleapis/rpc"}},
}

type listed struct {
	ImportPath string
	Standard   bool
	Module     *struct{ Path string }
}

func deps(t *testing.T, pkg string) []listed {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var all []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var l listed
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		all = append(all, l)
	}
	if len(all) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pkg)
	}
	return all
}

func TestImportRules(t *testing.T) {
	for _, r := range rules {
		t.Run(strings.TrimPrefix(r.pkg, mod+"/"), func(t *testing.T) {
			for _, d := range deps(t, r.pkg) {
				if d.ImportPath == r.pkg || d.Standard {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(d.ImportPath, f) {
						t.Errorf("%s depends on forbidden %s", r.pkg, d.ImportPath)
					}
				}
				inModule := strings.HasPrefix(d.ImportPath, mod+"/") || d.ImportPath == mod
				if r.stdlibOnly && !inModule {
					t.Errorf("%s must use only the standard library, depends on %s", r.pkg, d.ImportPath)
				}
				if r.stdlibOnly && inModule {
					t.Errorf("%s must share no code with the rest of the module, depends on %s", r.pkg, d.ImportPath)
				}
				if r.allowedThirdParty != nil && !inModule && !hasAnyPrefix(d.ImportPath, r.allowedThirdParty) {
					t.Errorf("%s depends on %s, outside its allowed set %v", r.pkg, d.ImportPath, r.allowedThirdParty)
				}
			}
		})
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
