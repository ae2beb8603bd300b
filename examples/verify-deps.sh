#!/usr/bin/env bash
# verify-deps.sh: prove that what `make polyglot-deps` installed works, so that a missing package
# fails the install loudly, naming the package, instead of failing the polyglot tests later.
# Run by the polyglot-deps target (examples/polyglot.mk), which passes POLYGLOT_JAVA_CP.
#
# It checks, and reports every failure (not only the first):
#   - protoc compiles a file importing google/protobuf/{timestamp,struct,duration}.proto (the
#     well-known types, from libprotobuf-dev) with --python_out, --java_out and both gRPC plugins;
#   - python3 imports grpc and google.protobuf, and the generated modules;
#   - javac and java answer, every jar of POLYGLOT_JAVA_CP exists, and javac compiles the
#     generated Java against them;
#   - node and npm answer;
#   - grpc-health-probe answers.
#
# Environment (defaults are what the tests of internal/polyglot use):
#   PROTOC_INCLUDE      where the well-known .proto files live           (/usr/include)
#   PYTHON              Debian's Python, which carries python3-grpcio     (/usr/bin/python3)
#   GRPC_PYTHON_PLUGIN  protoc plugin from protobuf-compiler-grpc         (/usr/bin/grpc_python_plugin)
#   GRPC_JAVA_PLUGIN    protoc plugin from protobuf-compiler-grpc-java-plugin (/usr/bin/grpc_java_plugin)
#   POLYGLOT_JAVA_CP    the Java class path, colon-separated jars         (required)
#   HEALTH_PROBE        grpc-health-probe binary                          (bin/grpc-health-probe)
# protoc, javac, java, node and npm are looked up in PATH.
set -uo pipefail

PROTOC_INCLUDE=${PROTOC_INCLUDE:-/usr/include}
PYTHON=${PYTHON:-/usr/bin/python3}
GRPC_PYTHON_PLUGIN=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
GRPC_JAVA_PLUGIN=${GRPC_JAVA_PLUGIN:-/usr/bin/grpc_java_plugin}
HEALTH_PROBE=${HEALTH_PROBE:-bin/grpc-health-probe}
POLYGLOT_JAVA_CP=${POLYGLOT_JAVA_CP:-}

failures=0
# fail reports one failed check: what failed, the Debian package (or target) that provides it,
# and the command's output.
fail() {
	local what=$1 pkg=$2 out=${3:-}
	echo "verify-deps: FAIL: $what (install: $pkg)" >&2
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/verify-deps:     /' >&2
	failures=$((failures + 1))
}
ok() { echo "verify-deps: ok: $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proto/verifydeps" "$work/py" "$work/java" "$work/classes"
cat >"$work/proto/verifydeps/wkt.proto" <<'EOF'
syntax = "proto3";
package verifydeps;
option java_package = "verifydeps";
option java_multiple_files = true;
import "google/protobuf/timestamp.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/duration.proto";
message Probe {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Struct fields = 2;
  google.protobuf.Duration took = 3;
}
service ProbeService {
  rpc Get(Probe) returns (Probe);
}
EOF

# --- protoc and the well-known types
protoc_ok=0
if ! command -v protoc >/dev/null; then
	fail "protoc not found in PATH" protobuf-compiler
else
	for f in timestamp struct duration; do
		[ -f "$PROTOC_INCLUDE/google/protobuf/$f.proto" ] ||
			fail "well-known type $PROTOC_INCLUDE/google/protobuf/$f.proto missing" libprotobuf-dev
	done
	for p in "$GRPC_PYTHON_PLUGIN:protobuf-compiler-grpc" "$GRPC_JAVA_PLUGIN:protobuf-compiler-grpc-java-plugin"; do
		[ -x "${p%%:*}" ] || fail "protoc plugin ${p%%:*} missing" "${p#*:}"
	done
	if out=$(protoc -I "$work/proto" -I "$PROTOC_INCLUDE" \
		--python_out="$work/py" --grpc_python_out="$work/py" --plugin=protoc-gen-grpc_python="$GRPC_PYTHON_PLUGIN" \
		--java_out="$work/java" --grpc-java_out="$work/java" --plugin=protoc-gen-grpc-java="$GRPC_JAVA_PLUGIN" \
		verifydeps/wkt.proto 2>&1); then
		protoc_ok=1
		ok "protoc $(protoc --version | awk '{print $2}') compiles the well-known types (timestamp, struct, duration) with the Python, Java and gRPC generators"
	else
		fail "protoc cannot compile a file importing google/protobuf/{timestamp,struct,duration}.proto with -I $PROTOC_INCLUDE" \
			"libprotobuf-dev protobuf-compiler-grpc protobuf-compiler-grpc-java-plugin" "$out"
	fi
fi

# --- Python
if [ ! -x "$PYTHON" ]; then
	fail "$PYTHON missing" python3
elif ! out=$("$PYTHON" -c 'import grpc, google.protobuf; print(grpc.__version__, google.protobuf.__version__)' 2>&1); then
	fail "$PYTHON cannot import grpc and google.protobuf" "python3-grpcio python3-protobuf" "$out"
else
	ok "python3 grpc $out"
	if [ "$protoc_ok" = 1 ]; then
		if out=$(cd "$work/py" && "$PYTHON" -c 'import verifydeps.wkt_pb2, verifydeps.wkt_pb2_grpc' 2>&1); then
			ok "python3 imports the generated modules"
		else
			fail "$PYTHON cannot import the generated modules (protoc and python3-protobuf disagree?)" "python3-protobuf" "$out"
		fi
	fi
fi

# --- Java
java_ok=1
for t in javac java; do
	if ! out=$("$t" -version 2>&1); then
		fail "$t does not answer" openjdk-17-jdk-headless "$out"
		java_ok=0
	fi
done
[ "$java_ok" = 1 ] && ok "$(javac -version 2>&1), $(java -version 2>&1 | head -1)"
if [ -z "$POLYGLOT_JAVA_CP" ]; then
	fail "POLYGLOT_JAVA_CP not set (run through make polyglot-deps)" "examples/polyglot.mk"
	java_ok=0
else
	IFS=: read -r -a jars <<<"$POLYGLOT_JAVA_CP"
	for j in "${jars[@]}"; do
		if [ ! -f "$j" ]; then
			fail "jar $j missing" "the Java packages of POLYGLOT_DEBS: libgrpc-java libprotobuf-java libnetty-java ..."
			java_ok=0
		fi
	done
	[ "$java_ok" = 1 ] && ok "${#jars[@]} jars of POLYGLOT_JAVA_CP present"
fi
if [ "$java_ok" = 1 ] && [ "$protoc_ok" = 1 ]; then
	if out=$(javac -nowarn -encoding UTF-8 -d "$work/classes" -cp "$POLYGLOT_JAVA_CP" $(find "$work/java" -name '*.java') 2>&1); then
		ok "javac compiles the generated messages and gRPC stubs against POLYGLOT_JAVA_CP"
	else
		fail "javac cannot compile the generated Java against POLYGLOT_JAVA_CP" "libprotobuf-java libgrpc-java" "$out"
	fi
fi

# --- Node
for t in node npm; do
	if out=$("$t" --version 2>&1 | tr -d '\r'); then ok "$t $out"; else fail "$t does not answer" "nodejs npm" "$out"; fi
done

# --- grpc-health-probe
if out=$("$HEALTH_PROBE" -version 2>&1); then
	ok "grpc-health-probe answers ($HEALTH_PROBE)"
else
	fail "$HEALTH_PROBE does not answer" "make bin/grpc-health-probe" "$out"
fi

if [ "$failures" -gt 0 ]; then
	echo "verify-deps: $failures check(s) FAILED: the polyglot dependencies are incomplete; see above" >&2
	exit 1
fi
echo "verify-deps: every polyglot dependency answers"
