package polyglot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// consumer is one example client (examples/<lang>), ready to run.
type consumer struct {
	// lang names the language: python, node or java.
	lang string
	// argv is the command line that starts the consumer, before its own arguments.
	argv []string
	// env is added to the environment of the consumer.
	env []string
}

// result is what one run of a consumer produced.
type result struct {
	stdout, stderr string
	// code is the exit status, -1 if the process did not exit by itself.
	code int
}

// run starts the consumer with args and waits for it to exit, at most timeout.
func (c *consumer) run(t testing.TB, timeout time.Duration, args ...string) result {
	t.Helper()
	res, err := c.exec(timeout, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// exec is run for any goroutine: it returns an error instead of failing a test.
func (c *consumer) exec(timeout time.Duration, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append([]string{}, c.argv...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.code = 0
	case errors.As(err, &exit) && exit.Exited():
		res.code = exit.ExitCode()
	default:
		return res, fmt.Errorf("%s consumer did not finish within %v: %v\nstderr:\n%s", c.lang, timeout, err, res.stderr)
	}
	return res, nil
}

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// protoDir is the contract the clients are built from.
func protoDir() string { return filepath.Join(repoRoot, "proto") }

// protoFiles lists the contract's .proto files relative to protoDir.
func protoFiles() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(protoDir(), "cdcstream", "v1", "*.proto"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no .proto files under %s (%v)", protoDir(), err)
	}
	for i, f := range files {
		files[i], _ = filepath.Rel(protoDir(), f)
	}
	return files, nil
}

// protoDepsDir holds the google.rpc protos the clients decode status details with
// (google.rpc.Status, ErrorInfo, RetryInfo, BadRequest); protoc has no copy of them.
func protoDepsDir() string { return filepath.Join(repoRoot, "examples", "proto-deps") }

// protoDepFiles lists the google.rpc .proto files relative to protoDepsDir.
func protoDepFiles() ([]string, error) {
	deps, err := filepath.Glob(filepath.Join(protoDepsDir(), "google", "rpc", "*.proto"))
	if err != nil || len(deps) == 0 {
		return nil, fmt.Errorf("no google/rpc .proto files under %s (%v)", protoDepsDir(), err)
	}
	for i, f := range deps {
		deps[i], _ = filepath.Rel(protoDepsDir(), f)
	}
	return deps, nil
}

// protocArgs returns protoc's arguments that compile the contract and the google.rpc protos of
// protoDepsDir, after the output options opts.
func protocArgs(opts ...string) ([]string, error) {
	files, err := protoFiles()
	if err != nil {
		return nil, err
	}
	deps, err := protoDepFiles()
	if err != nil {
		return nil, err
	}
	args := append([]string{"-I", protoDir(), "-I", protoDepsDir()}, opts...)
	return append(append(args, files...), deps...), nil
}

// lookPaths returns the first of names that is not installed, or "".
func lookPaths(names ...string) string {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return n
		}
	}
	return ""
}

const python3 = "/usr/bin/python3"

var pythonConsumer once

// pythonClient generates the Python stubs (protoc + Debian's grpc_python_plugin) once per run
// and returns the Python consumer.
func pythonClient(t testing.TB) *consumer {
	t.Helper()
	gen := pythonConsumer.get(t, func() (string, string, error) {
		if lookPaths(python3) != "" {
			return "", "python3 (" + python3 + ") missing: " + installHint, nil
		}
		if out, err := run(repoRoot, nil, time.Minute, python3, "-c", "import grpc, google.protobuf"); err != nil {
			return "", fmt.Sprintf("python3-grpcio or python3-protobuf missing (%s): %s", strings.TrimSpace(out), installHint), nil
		}
		if n := lookPaths("protoc", "/usr/bin/grpc_python_plugin"); n != "" {
			return "", n + " missing (Debian protobuf-compiler, protobuf-compiler-grpc): " + installHint, nil
		}
		gen := filepath.Join(artifacts, "python-gen")
		if err := os.MkdirAll(gen, 0o755); err != nil {
			return "", "", err
		}
		args, err := protocArgs("--python_out="+gen, "--grpc_python_out="+gen,
			"--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin")
		if err != nil {
			return "", "", err
		}
		if _, err := run(protoDir(), nil, time.Minute, "protoc", args...); err != nil {
			return "", "", fmt.Errorf("generating Python stubs: %w", err)
		}
		return gen, "", nil
	})
	return &consumer{
		lang: "python",
		argv: []string{python3, filepath.Join(repoRoot, "examples", "python", "cdcstream_consumer.py")},
		env:  []string{"CDCSTREAM_PY_GEN=" + gen, "PYTHONDONTWRITEBYTECODE=1"},
	}
}

var nodeConsumer once

// prepareNodeExample copies examples/<name> (its .js files, package.json and lockfile) to the
// run's directory and installs its locked dependencies there with `npm ci`. It needs Node.js
// 18.<minMinor> or newer (for what needs names the feature); without node or npm, or with an
// older node, it returns the reason to skip.
func prepareNodeExample(name string, minMinor int, what string) (dir, skip string, err error) {
	if n := lookPaths("node", "npm"); n != "" {
		return "", fmt.Sprintf("%s missing (Node.js >= 18.%d with npm): %s", n, minMinor, installHint), nil
	}
	out, err := run(repoRoot, nil, time.Minute, "node", "-p", "process.versions.node")
	if err != nil {
		return "", "", err
	}
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "%d.%d", &major, &minor); err != nil || major < 18 || (major == 18 && minor < minMinor) {
		return "", fmt.Sprintf("node %s is too old (>= 18.%d needed for %s): %s", strings.TrimSpace(out), minMinor, what, installHint), nil
	}
	src := filepath.Join(repoRoot, "examples", name)
	dir = filepath.Join(artifacts, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	names, err := filepath.Glob(filepath.Join(src, "*.js"))
	if err != nil {
		return "", "", err
	}
	for _, f := range append(names, filepath.Join(src, "package.json"), filepath.Join(src, "package-lock.json")) {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			return "", "", err
		}
	}
	if _, err := run(dir, nil, 5*time.Minute, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"); err != nil {
		return "", "", fmt.Errorf("npm ci from examples/%s/package-lock.json: %w", name, err)
	}
	return dir, "", nil
}

// nodeClient copies examples/node to the run's directory, installs its locked dependencies
// with `npm ci` there, and returns the Node consumer.
func nodeClient(t testing.TB) *consumer {
	t.Helper()
	dir := nodeConsumer.get(t, func() (string, string, error) {
		return prepareNodeExample("node", 3, "util.parseArgs")
	})
	return &consumer{
		lang: "node",
		argv: []string{"node", filepath.Join(dir, "cdcstream_consumer.js"), "--proto-dir", protoDir(), "--proto-deps-dir", protoDepsDir()},
	}
}

// javaJars are the Debian jars (under /usr/share/java) the Java consumer compiles and runs
// with, and the packages that install them.
var javaJars = map[string]string{
	"grpc-api": "libgrpc-java", "grpc-core": "libgrpc-java", "grpc-netty": "libgrpc-java",
	"grpc-stub": "libgrpc-java", "grpc-protobuf": "libgrpc-java", "grpc-protobuf-lite": "libgrpc-java",
	"grpc-context": "libgrpc-java", "opencensus-api": "libopencensus-java",
	"protobuf": "libprotobuf-java", "protobuf-util": "libprotobuf-java", "gson": "libgoogle-gson-java",
	"guava": "libguava-java", "perfmark-api": "libperfmark-java",
	"geronimo-annotation-1.3-spec": "libgeronimo-annotation-1.3-spec-java", "jsr305": "libjsr305-java",
	"error_prone_annotations": "liberror-prone-java",
	"netty-buffer":            "libnetty-java", "netty-codec": "libnetty-java", "netty-codec-http": "libnetty-java",
	"netty-codec-http2": "libnetty-java", "netty-common": "libnetty-java", "netty-handler": "libnetty-java",
	"netty-resolver": "libnetty-java", "netty-transport": "libnetty-java",
}

var javaConsumer once

// javaClient generates the Java stubs (protoc + Debian's grpc_java_plugin), compiles them and
// examples/java with javac once per run, and returns the Java consumer.
func javaClient(t testing.TB) *consumer {
	t.Helper()
	cp := javaConsumer.get(t, func() (string, string, error) {
		if n := lookPaths("javac", "java"); n != "" {
			return "", n + " missing (openjdk-17-jdk-headless): " + installHint, nil
		}
		if n := lookPaths("protoc", "/usr/bin/grpc_java_plugin"); n != "" {
			return "", n + " missing (Debian protobuf-compiler, protobuf-compiler-grpc-java-plugin): " + installHint, nil
		}
		var jars []string
		for name, pkg := range javaJars {
			jar := filepath.Join("/usr/share/java", name+".jar")
			if _, err := os.Stat(jar); err != nil {
				return "", fmt.Sprintf("%s missing (Debian %s): %s", jar, pkg, installHint), nil
			}
			jars = append(jars, jar)
		}
		gen := filepath.Join(artifacts, "java-gen")
		classes := filepath.Join(artifacts, "java-classes")
		for _, d := range []string{gen, classes} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return "", "", err
			}
		}
		args, err := protocArgs("--java_out="+gen, "--grpc-java_out="+gen,
			"--plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin")
		if err != nil {
			return "", "", err
		}
		if _, err := run(protoDir(), nil, time.Minute, "protoc", args...); err != nil {
			return "", "", fmt.Errorf("generating Java stubs: %w", err)
		}
		var sources []string
		for _, root := range []string{gen, filepath.Join(repoRoot, "examples", "java", "src")} {
			err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, ".java") {
					sources = append(sources, p)
				}
				return err
			})
			if err != nil {
				return "", "", err
			}
		}
		classpath := strings.Join(jars, string(os.PathListSeparator))
		args = append([]string{"-nowarn", "-encoding", "UTF-8", "-d", classes, "-cp", classpath}, sources...)
		if _, err := run(repoRoot, nil, 5*time.Minute, "javac", args...); err != nil {
			return "", "", fmt.Errorf("compiling the Java consumer: %w", err)
		}
		return classes + string(os.PathListSeparator) + classpath, "", nil
	})
	return &consumer{
		lang: "java",
		argv: []string{"java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp, "cdcstream.examples.CdcstreamConsumer"},
	}
}

// consumers lists the example clients, each prepared on first use.
var consumers = []struct {
	lang    string
	prepare func(testing.TB) *consumer
}{
	{"python", pythonClient},
	{"node", nodeClient},
	{"java", javaClient},
}

// itoa formats n for a command line.
func itoa(n int) string { return strconv.Itoa(n) }
