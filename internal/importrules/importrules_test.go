package importrules

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const mod = "github.com/cdcstream/cdcstream"

// The third-party roots every gRPC package may reach: the protobuf and grpc runtimes and what
// grpc itself depends on (golang.org/x/net, sys and text, genproto's google.rpc types).
var grpcRuntime = []string{"google.golang.org/protobuf/", "google.golang.org/grpc", "golang.org/x/", "google.golang.org/genproto/googleapis/rpc/"}

// rule constrains the packages under pkg (pkg itself and pkg/...).
type rule struct {
	pkg string
	// imports, when set, are the only import path prefixes the package may import directly,
	// besides the standard library and itself.
	imports []string
	// never are import path prefixes that must not appear among the package's dependencies,
	// direct or transitive.
	never []string
	// deps, when set, are the only non-module prefixes allowed among all its dependencies.
	deps []string
	// stdlibOnly demands that every dependency is from the standard library.
	stdlibOnly bool
}

// rules are the rules of docs/architecture.md. cmd/* may import anything. Two rules apply to
// every package and are checked apart: only internal/neo4jcdc imports the Neo4j driver, and
// only _test.go files import internal/testkit.
var rules = []rule{
	{pkg: mod + "/gen", imports: []string{"google.golang.org/protobuf/", "google.golang.org/grpc"},
		never: []string{mod + "/"}, deps: grpcRuntime},
	{pkg: mod + "/server",
		imports: []string{mod + "/gen/", mod + "/server", "google.golang.org/grpc", "google.golang.org/protobuf/", "google.golang.org/genproto/googleapis/rpc/errdetails"},
		never:   []string{"github.com/neo4j/", mod + "/internal/", mod + "/client"}, deps: grpcRuntime},
	{pkg: mod + "/internal/neo4jcdc", never: []string{mod + "/internal/neo4jsim", mod + "/client"}},
	{pkg: mod + "/internal/neo4jsim", stdlibOnly: true},
	{pkg: mod + "/client",
		imports: []string{mod + "/gen/", "google.golang.org/grpc", "google.golang.org/protobuf/", "google.golang.org/genproto/googleapis/rpc/errdetails"},
		never:   []string{"github.com/neo4j/", mod + "/server", mod + "/internal/"}, deps: grpcRuntime},
	{pkg: mod + "/internal/testkit",
		imports: []string{mod + "/gen/", "google.golang.org/grpc", "google.golang.org/protobuf/", "google.golang.org/genproto/googleapis/rpc/errdetails"},
		never:   []string{"github.com/neo4j/", mod + "/server", mod + "/client", mod + "/internal/neo4j"}, deps: grpcRuntime},
}

const (
	driver  = "github.com/neo4j/neo4j-go-driver"
	testkit = mod + "/internal/testkit"
)

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath string
	Standard   bool
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// goList runs go list once for all the tests.
var goList = sync.OnceValues(func() ([]byte, error) {
	return exec.Command("go", "list", "-deps", "-json", mod+"/...").Output()
})

// list returns every non-test package of the module and every package they depend on, by
// import path: `go list -deps` without -test, so _test.go files are not seen.
func list(t *testing.T) (module []*pkg, all map[string]*pkg) {
	t.Helper()
	out, err := goList()
	if err != nil {
		t.Fatalf("go list -deps %s/...: %v", mod, err)
	}
	all = map[string]*pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		p := new(pkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		all[p.ImportPath] = p
		if inModule(p.ImportPath) {
			module = append(module, p)
			touch(t, p)
		}
	}
	if len(module) < 10 {
		t.Fatalf("go list found only %d packages of the module", len(module))
	}
	return module, all
}

// touch reads the package's directory and opens its Go files, so that `go test` caches this
// test's result only until a file is added or changed there (the test cache watches what a
// test opens, not what the go command it runs reads).
func touch(t *testing.T, p *pkg) {
	t.Helper()
	if _, err := os.ReadDir(p.Dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range p.GoFiles {
		fh, err := os.Open(filepath.Join(p.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
}

func inModule(path string) bool { return path == mod || strings.HasPrefix(path, mod+"/") }

func under(path, root string) bool { return path == root || strings.HasPrefix(path, root+"/") }

func hasAnyPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

func TestImportRules(t *testing.T) {
	module, all := list(t)
	for _, r := range rules {
		t.Run(strings.TrimPrefix(r.pkg, mod+"/"), func(t *testing.T) {
			matched := 0
			for _, p := range module {
				if !under(p.ImportPath, r.pkg) {
					continue
				}
				matched++
				for _, imp := range p.Imports {
					if r.imports != nil && !all[imp].Standard && !under(imp, p.ImportPath) && !hasAnyPrefix(imp, r.imports) {
						t.Errorf("%s imports %s, outside %v", p.ImportPath, imp, r.imports)
					}
				}
				for _, dep := range p.Deps {
					std := all[dep] != nil && all[dep].Standard
					switch {
					case r.stdlibOnly && !std:
						t.Errorf("%s must use only the standard library and share no code with the module; it depends on %s", p.ImportPath, dep)
					case hasAnyPrefix(dep, r.never):
						t.Errorf("%s depends on forbidden %s", p.ImportPath, dep)
					case r.deps != nil && !std && !inModule(dep) && !hasAnyPrefix(dep, r.deps):
						t.Errorf("%s depends on %s, outside %v", p.ImportPath, dep, r.deps)
					}
				}
			}
			if matched == 0 {
				t.Fatalf("no package under %s: the rule checks nothing", r.pkg)
			}
		})
	}
}

// TestOnlyNeo4jcdcImportsTheDriver: the Neo4j driver is imported by internal/neo4jcdc alone,
// even by cmd/*, so one package holds every driver call and every conversion.
func TestOnlyNeo4jcdcImportsTheDriver(t *testing.T) {
	module, _ := list(t)
	importers := 0
	for _, p := range module {
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, driver) {
				continue
			}
			if under(p.ImportPath, mod+"/internal/neo4jcdc") {
				importers++
				continue
			}
			t.Errorf("%s imports %s: only internal/neo4jcdc may", p.ImportPath, imp)
		}
	}
	if importers == 0 {
		t.Fatal("internal/neo4jcdc does not import the driver: the rule checks nothing")
	}
}

// TestTestkitOnlyInTests: no non-test package depends on internal/testkit, so the kit never
// ships in a binary or in the client library.
func TestTestkitOnlyInTests(t *testing.T) {
	module, all := list(t)
	if all[testkit] == nil {
		t.Fatalf("%s not listed: the rule checks nothing", testkit)
	}
	for _, p := range module {
		if p.ImportPath != testkit && slices.Contains(p.Deps, testkit) {
			t.Errorf("%s depends on %s: only _test.go files may import it", p.ImportPath, testkit)
		}
	}
}
