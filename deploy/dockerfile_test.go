package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// The Dockerfile, read and executed here without Docker: a parser for the instructions it
// uses (any other instruction fails the test, so nothing is skipped silently) and an
// emulation of its build stage on the host.

// instruction is one Dockerfile instruction.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string // the rest, continuation lines joined
}

// stage is one FROM ... block.
type stage struct {
	from, name string
	ins        []instruction
}

// known are the instructions the emulation understands.
var known = map[string]bool{"ARG": true, "FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ENV": true, "USER": true, "EXPOSE": true, "ENTRYPOINT": true, "CMD": true, "HEALTHCHECK": true}

// parseDockerfile splits the Dockerfile into stages, substituting global ARG defaults.
func parseDockerfile() (args map[string]string, stages []*stage, err error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return nil, nil, err
	}
	args = map[string]string{}
	var cur *stage
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		no, l := i+1, strings.TrimSpace(lines[i])
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cmd, rest, _ := strings.Cut(l, " ")
		cmd = strings.ToUpper(cmd)
		if !known[cmd] {
			return nil, nil, fmt.Errorf("Dockerfile:%d: instruction %s is not emulated by this test; teach it", no, cmd)
		}
		rest = strings.TrimSpace(rest)
		switch {
		case cmd == "ARG" && cur == nil:
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case cmd == "FROM":
			from, name, _ := strings.Cut(rest, " AS ")
			for k, v := range args {
				from = strings.ReplaceAll(from, "${"+k+"}", v)
			}
			cur = &stage{from: strings.TrimSpace(from), name: strings.TrimSpace(name)}
			stages = append(stages, cur)
		case cur == nil:
			return nil, nil, fmt.Errorf("Dockerfile:%d: %s before FROM", no, cmd)
		default:
			cur.ins = append(cur.ins, instruction{line: no, cmd: cmd, args: rest})
		}
	}
	if len(stages) != 2 {
		return nil, nil, fmt.Errorf("Dockerfile: %d stages, want 2 (build, runtime)", len(stages))
	}
	return args, stages, nil
}

// shellWords splits a command line the way sh does for the simple words the Dockerfile uses:
// blanks separate, single and double quotes group. Anything needing a shell fails the test.
func shellWords(s string) ([]string, error) {
	if strings.ContainsAny(s, "$`|&;<>*?(){}") {
		return nil, fmt.Errorf("RUN %s: uses shell features this test does not emulate", s)
	}
	var words []string
	var w strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("RUN %s: unbalanced quote", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// buildContext copies the repository into dst as Docker would send it: every file not
// excluded by .dockerignore (with Docker's own pattern matcher).
func buildContext(dst string) error {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		return err
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	return filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if rel == "." {
			return nil
		}
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil // symlinks and others: the repository has none that the build needs
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm()|0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// image is the result of emulating the Dockerfile.
type image struct {
	// root is the build stage's file system root on the host (container path p is root+p).
	root string
	// builds are the RUN go build command lines executed (words, as in the Dockerfile).
	builds [][]string
	// env is the build stage's ENV.
	env map[string]string
	// binaries maps each file the runtime stage copies in (its path in the image) to the host
	// file built for it.
	binaries map[string]string
	// user, entrypoint, from: the runtime stage's USER, ENTRYPOINT and base image.
	user       string
	entrypoint []string
	from       string
	// healthcheck is set when any stage has a HEALTHCHECK.
	healthcheck bool
	goVersion   string
}

var (
	imageOnce sync.Once
	imageRes  *image
	imageErr  error
)

// buildImage runs the Dockerfile's build stage on the host, once per test binary: the build
// context is the repository filtered by .dockerignore, COPY copies from it, ENV sets the
// environment of every later RUN, and each RUN runs its words with the container paths mapped
// under the stage's root.
func buildImage(t *testing.T) *image {
	t.Helper()
	imageOnce.Do(func() { imageRes, imageErr = emulate() })
	if imageErr != nil {
		t.Fatalf("emulating the Dockerfile: %v", imageErr)
	}
	return imageRes
}

func emulate() (*image, error) {
	args, stages, err := parseDockerfile()
	if err != nil {
		return nil, err
	}
	build, runtime := stages[0], stages[1]
	img := &image{root: filepath.Join(scratch, "build-root"), env: map[string]string{}, binaries: map[string]string{}, goVersion: args["GO_VERSION"]}
	ctxDir := filepath.Join(scratch, "context")
	if err := buildContext(ctxDir); err != nil {
		return nil, err
	}
	workdir := "/"
	host := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(workdir, p)
		}
		return filepath.Join(img.root, p)
	}
	for _, in := range build.ins {
		fail := func(format string, a ...any) error {
			return fmt.Errorf("Dockerfile:%d: %s %s: %s", in.line, in.cmd, in.args, fmt.Sprintf(format, a...))
		}
		switch in.cmd {
		case "WORKDIR":
			workdir = in.args
			if err := os.MkdirAll(host(workdir), 0o755); err != nil {
				return nil, fail("%v", err)
			}
		case "COPY":
			w := strings.Fields(in.args)
			srcs, dst := w[:len(w)-1], host(w[len(w)-1])
			for _, s := range srcs {
				if s == "." {
					if err := buildContext(dst); err != nil {
						return nil, fail("%v", err)
					}
					continue
				}
				if err := copyFile(filepath.Join(ctxDir, s), filepath.Join(dst, filepath.Base(s))); err != nil {
					return nil, fail("%v (excluded by .dockerignore?)", err)
				}
			}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fail("want KEY=VALUE")
				}
				img.env[k] = v
			}
		case "RUN":
			words, err := shellWords(in.args)
			if err != nil {
				return nil, fail("%v", err)
			}
			mapped := make([]string, len(words))
			for i, w := range words {
				mapped[i] = w
				if strings.HasPrefix(w, "/") {
					mapped[i] = host(w)
					if strings.HasSuffix(w, "/") {
						mapped[i] += "/"
					}
				}
			}
			if len(words) > 1 && words[0] == "go" && words[1] == "build" {
				img.builds = append(img.builds, words)
			}
			cmd := exec.Command(mapped[0], mapped[1:]...)
			cmd.Dir = host(workdir)
			cmd.Env = buildEnv(img.env)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fail("%v\n%s", err, out)
			}
		case "HEALTHCHECK":
			img.healthcheck = true
		default:
			return nil, fail("not emulated in the build stage")
		}
	}
	img.from = runtime.from
	for _, in := range runtime.ins {
		fail := func(format string, a ...any) error {
			return fmt.Errorf("Dockerfile:%d: %s %s: %s", in.line, in.cmd, in.args, fmt.Sprintf(format, a...))
		}
		switch in.cmd {
		case "COPY":
			w := strings.Fields(in.args)
			if len(w) < 3 || w[0] != "--from="+build.name {
				return nil, fail("the runtime stage copies only --from=%s", build.name)
			}
			srcs, dst := w[1:len(w)-1], w[len(w)-1]
			for _, s := range srcs {
				img.binaries[filepath.Join(dst, filepath.Base(s))] = filepath.Join(img.root, s)
			}
		case "USER":
			img.user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &img.entrypoint); err != nil {
				return nil, fail("must be exec form (a JSON array): %v", err)
			}
		case "HEALTHCHECK":
			img.healthcheck = true
		case "EXPOSE", "CMD":
		default:
			return nil, fail("not emulated in the runtime stage")
		}
	}
	return img, nil
}

// buildEnv is the host environment for a RUN: the host's Go setup (caches, proxy, PATH),
// without anything that changes what is built, then the Dockerfile's ENV.
func buildEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CGO_ENABLED", "GOFLAGS", "GOOS", "GOARCH", "GOAMD64", "GOEXPERIMENT", "CC", "CGO_CFLAGS", "CGO_LDFLAGS":
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
