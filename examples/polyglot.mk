# Polyglot clients (examples/python, examples/node, examples/java), grpcurl and grpc-health-probe,
# and the official Neo4j JavaScript driver against neo4jsim (examples/neo4jsim-js).
# Included by the top-level Makefile. Targets:
#   polyglot-deps   install the Debian packages, the locked npm dependencies (examples/node,
#                   examples/neo4jsim-js) and grpc-health-probe
#                   (idempotent: apt runs only for missing packages, npm ci only when the lockfile
#                   changed, go install only when the binary is missing)
#   polyglot-gen    generate the Python and Java stubs into the gitignored gen/ directories and
#                   compile the Java consumer, for running the examples by hand (the tests
#                   generate their own copies)
#   test-polyglot   the Go tests in internal/polyglot, which run all of the above as processes

GO                 ?= go
POLYGLOT_APT       := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
# Debian (bookworm) packages. libgrpc-java declares only libopencensus-java, so netty, perfmark
# and the annotation jars are named explicitly; libprotobuf-java carries protobuf-util.jar
# (JsonFormat), which needs gson.
POLYGLOT_DEBS      := python3 python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev protobuf-compiler-grpc \
	openjdk-17-jdk-headless libgrpc-java protobuf-compiler-grpc-java-plugin libprotobuf-java \
	libgoogle-gson-java libnetty-java libperfmark-java libguava-java libjsr305-java \
	liberror-prone-java libgeronimo-annotation-1.3-spec-java libopencensus-java
HEALTH_PROBE_VER   := v0.4.62
POLYGLOT_JAVA_JARS := grpc-api grpc-core grpc-netty grpc-stub grpc-protobuf grpc-protobuf-lite grpc-context \
	opencensus-api protobuf protobuf-util gson guava perfmark-api geronimo-annotation-1.3-spec jsr305 \
	error_prone_annotations netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-common \
	netty-handler netty-resolver netty-transport
# google.rpc.Status and its detail messages (examples/proto-deps/README.md), relative to that directory.
POLYGLOT_PROTO_DEPS := google/rpc/status.proto google/rpc/error_details.proto
polyglot_empty     :=
polyglot_space     := $(polyglot_empty) $(polyglot_empty)
POLYGLOT_JAVA_CP   := $(subst $(polyglot_space),:,$(foreach j,$(POLYGLOT_JAVA_JARS),/usr/share/java/$(j).jar))

.PHONY: polyglot-deps polyglot-apt polyglot-verify polyglot-gen test-polyglot

## polyglot-deps: Debian packages, npm ci in examples/node and examples/neo4jsim-js,
## bin/grpc-health-probe, then polyglot-verify.
polyglot-deps: polyglot-apt examples/node/node_modules/.package-lock.json \
	examples/neo4jsim-js/node_modules/.package-lock.json bin/grpc-health-probe
	@$(MAKE) --no-print-directory polyglot-verify

## polyglot-verify: prove every installed runtime, plugin and jar works (examples/verify-deps.sh);
## run last by polyglot-deps, so a missing package fails the install, naming the package.
polyglot-verify:
	@POLYGLOT_JAVA_CP='$(POLYGLOT_JAVA_CP)' HEALTH_PROBE=bin/grpc-health-probe bash examples/verify-deps.sh

polyglot-apt:
	@missing=""; for p in $(POLYGLOT_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -z "$$missing" ]; then echo "polyglot-deps: Debian packages already installed"; else \
		echo "polyglot-deps: installing$$missing"; \
		$(POLYGLOT_APT) update && $(POLYGLOT_APT) install -y --no-install-recommends $$missing; \
	fi

examples/node/node_modules/.package-lock.json: examples/node/package.json examples/node/package-lock.json
	cd examples/node && npm ci --no-audit --no-fund

# The official Neo4j JavaScript driver suite run against neo4jsim (internal/polyglot).
examples/neo4jsim-js/node_modules/.package-lock.json: examples/neo4jsim-js/package.json examples/neo4jsim-js/package-lock.json
	cd examples/neo4jsim-js && npm ci --no-audit --no-fund

bin/grpc-health-probe:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/grpc-ecosystem/grpc-health-probe@$(HEALTH_PROBE_VER)

## polyglot-gen: Python stubs in examples/python/gen, Java stubs and classes in examples/java.
polyglot-gen:
	rm -rf examples/python/gen examples/java/gen examples/java/classes
	mkdir -p examples/python/gen examples/java/gen examples/java/classes
	cd proto && protoc -I . -I ../examples/proto-deps --python_out=../examples/python/gen --grpc_python_out=../examples/python/gen \
		--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin cdcstream/v1/*.proto $(POLYGLOT_PROTO_DEPS)
	cd proto && protoc -I . -I ../examples/proto-deps --java_out=../examples/java/gen --grpc-java_out=../examples/java/gen \
		--plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin cdcstream/v1/*.proto $(POLYGLOT_PROTO_DEPS)
	javac -nowarn -encoding UTF-8 -d examples/java/classes -cp '$(POLYGLOT_JAVA_CP)' \
		$$(find examples/java/gen examples/java/src -name '*.java')
	@echo "run: java -cp 'examples/java/classes:$(POLYGLOT_JAVA_CP)' cdcstream.examples.CdcstreamConsumer --address 127.0.0.1:50051 --earliest"

## test-polyglot: Python, Node and Java consumers, grpcurl, grpc-health-probe, the
## cross-language check against cdcstreamd --demo, and the Neo4j JavaScript driver suite
## (examples/neo4jsim-js) against neo4jsim. Missing runtimes skip with the reason
## (fail with CDCSTREAM_REQUIRE_POLYGLOT=1, as in CI).
test-polyglot:
	$(GO) test -race -count=1 -v -timeout 15m ./internal/polyglot/...
