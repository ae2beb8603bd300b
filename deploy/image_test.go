package deploy

import (
	"debug/buildinfo"
	"debug/elf"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// wantBinaries are the commands the image carries, by their path in the image.
var wantBinaries = []string{"/usr/local/bin/cdcstreamd", "/usr/local/bin/cdctail", "/usr/local/bin/neo4jsim"}

// TestDockerfileRuntimeStage checks the image's shape: distroless static (or scratch), a
// numeric non-root USER (Kubernetes' runAsNonRoot can verify only a numeric one), no
// HEALTHCHECK, the three binaries, and cdcstreamd as the exec-form entrypoint.
func TestDockerfileRuntimeStage(t *testing.T) {
	img := buildImage(t)
	if !strings.HasPrefix(img.from, "gcr.io/distroless/static") && img.from != "scratch" {
		t.Errorf("runtime stage FROM %s: want gcr.io/distroless/static* or scratch", img.from)
	}
	uid, gid, ok := strings.Cut(img.user, ":")
	if u, err := strconv.Atoi(uid); err != nil || u == 0 || u != unprivileged {
		t.Errorf("USER %q: want the numeric unprivileged user %d", img.user, unprivileged)
	}
	if g, err := strconv.Atoi(gid); !ok || err != nil || g == 0 {
		t.Errorf("USER %q: want a numeric non-root group", img.user)
	}
	if img.healthcheck {
		t.Error("Dockerfile has a HEALTHCHECK: Kubernetes probes the gRPC health service instead")
	}
	var got []string
	for p := range img.binaries {
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, wantBinaries) {
		t.Errorf("the image carries %v, want %v", got, wantBinaries)
	}
	if len(img.entrypoint) != 1 || img.entrypoint[0] != wantBinaries[0] {
		t.Errorf("ENTRYPOINT %q, want [%q]", img.entrypoint, wantBinaries[0])
	}
}

// TestDockerfileGoVersion checks that the build stage's Go can build the module.
func TestDockerfileGoVersion(t *testing.T) {
	img := buildImage(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.goVersion == "" || semver.Compare("v"+img.goVersion, "v"+mf.Go.Version) < 0 {
		t.Errorf("Dockerfile GO_VERSION %q is older than go.mod's go %s", img.goVersion, mf.Go.Version)
	}
}

// TestImageBinariesStatic checks what the build stage produced, from the binaries themselves:
// built with CGO_ENABLED=0 and -trimpath (their embedded build settings), -ldflags '-s -w'
// (no symbol table, no DWARF), and static (no program interpreter, no shared libraries), so they run on distroless static.
func TestImageBinariesStatic(t *testing.T) {
	img := buildImage(t)
	if len(img.builds) == 0 {
		t.Fatal("the build stage runs no go build")
	}
	if img.env["CGO_ENABLED"] != "0" {
		t.Errorf("build stage ENV CGO_ENABLED=%q, want 0", img.env["CGO_ENABLED"])
	}
	for _, b := range img.builds {
		if !slices.Contains(b, "-trimpath") || !slices.Contains(b, "-ldflags=-s -w") {
			t.Errorf("go build %q: want -trimpath and -ldflags '-s -w'", b)
		}
	}
	for inImage, host := range img.binaries {
		t.Run(path.Base(inImage), func(t *testing.T) {
			bi, err := buildinfo.ReadFile(host)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			// Go records -ldflags only without -trimpath; the sections below show -s and -w.
			for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
				if settings[k] != want {
					t.Errorf("built with %s=%q, want %q (all settings: %v)", k, settings[k], want, settings)
				}
			}
			f, err := elf.Open(host)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("has a program interpreter (PT_INTERP): dynamically linked")
				}
			}
			if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
				t.Errorf("needs shared libraries %v (%v)", libs, err)
			}
			for _, sec := range f.Sections {
				if sec.Name == ".symtab" {
					t.Error("has a symbol table: -s did not apply")
				}
				if strings.HasPrefix(sec.Name, ".debug_") || strings.HasPrefix(sec.Name, ".zdebug_") {
					t.Errorf("has DWARF section %s: -w did not apply", sec.Name)
				}
			}
			raw, err := os.ReadFile(host)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), img.root) {
				t.Errorf("contains the build directory %s: -trimpath did not apply", img.root)
			}
		})
	}
}

// TestImageServesAsNonRootWithEmptyEnvironment runs the image's cdcstreamd as the image runs
// it, as user 65532 with an empty environment (no HOME, no PATH, no TMPDIR), on its embedded
// simulator, and checks that it serves: gRPC health SERVING for the whole server and for the
// service, as the Kubernetes probes ask.
func TestImageServesAsNonRootWithEmptyEnvironment(t *testing.T) {
	img := buildImage(t)
	bin := img.binaries[wantBinaries[0]]
	d := startAsImage(t, bin, "--demo", "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0")
	waitServing(t, d.addr, "")
	waitServing(t, d.addr, "cdcstream.v1.ChangeStreamService")

	status, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	wantUID := os.Geteuid()
	if wantUID == 0 {
		wantUID = unprivileged
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) > 1 && (f[0] == "Uid:" || f[0] == "Gid:") {
			if f[1] != strconv.Itoa(wantUID) && f[0] == "Uid:" {
				t.Errorf("cdcstreamd runs as uid %s, want %d", f[1], wantUID)
			}
			if f[0] == "Gid:" && os.Geteuid() == 0 && f[1] != strconv.Itoa(unprivileged) {
				t.Errorf("cdcstreamd runs as gid %s, want %d", f[1], unprivileged)
			}
		}
	}
	if env, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/environ"); err != nil || len(env) != 0 {
		t.Errorf("cdcstreamd's environment is %q (%v), want empty", env, err)
	}
}

// TestDockerBuildContext checks what .dockerignore lets into the build context: the module
// and the packages the binaries import, and none of the repository's history, tests, local
// binaries or deployment files (where an overlay's secret files live).
func TestDockerBuildContext(t *testing.T) {
	buildImage(t)
	ctx := filepath.Join(scratch, "context")
	for _, want := range []string{"go.mod", "go.sum", "cmd/cdcstreamd/main.go", "internal/apidesc/cdcstream.binpb", "gen"} {
		if _, err := os.Stat(filepath.Join(ctx, want)); err != nil {
			t.Errorf("the build context lacks %s: %v", want, err)
		}
	}
	err := filepath.WalkDir(ctx, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ctx, p)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		switch {
		case slices.Contains([]string{".git", "bin", "deploy", "examples", "docs", ".ci", "tools"}, top):
			t.Errorf("the build context holds %s", rel)
			return filepath.SkipDir
		case strings.HasSuffix(rel, "_test.go"):
			t.Errorf("the build context holds the test file %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
