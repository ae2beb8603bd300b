# cdcstream — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
# buf and gotestsum run as real binaries, not through `go tool`: `go tool X` exits 0 when X is
# killed by a signal, which would turn a killed test run into a green one.
BUF       := bin/buf
GOTESTSUM := bin/gotestsum
PKGS  := ./...

.PHONY: all build generate lint breaking ci-checks test test-neo4j test-go test-polyglot test-deploy run ci bench bench-hub fuzz clean

all: build

bin/buf: tools/buf/go.mod tools/buf/go.sum
	$(GO) build -modfile=tools/buf/go.mod -o $@ github.com/bufbuild/buf/cmd/buf

bin/gotestsum: go.mod go.sum
	$(GO) build -o $@ gotest.tools/gotestsum

build:
	$(GO) build ./...

## generate: regenerate gen/ (protoc-gen-go, protoc-gen-go-grpc) and the commented descriptor set in internal/apidesc.
generate: $(BUF)
	$(BUF) generate
	$(BUF) build -o internal/apidesc/cdcstream.binpb

## lint: buf lint, buf format check, gofmt, go vet.
lint: $(BUF)
	$(BUF) lint
	$(BUF) format -d --exit-code
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## breaking: buf breaking against main (skipped on main's first commit, where there is nothing to compare).
breaking: $(BUF)
	@if git rev-parse --verify -q main~0 >/dev/null && git cat-file -e main:proto 2>/dev/null; then \
		$(BUF) breaking --against '.git#branch=main'; \
	else echo "buf breaking: no proto on main yet, nothing to compare"; fi

## run: the service on its embedded Neo4j simulator with a demo workload (grpcurl at 127.0.0.1:50051).
run:
	$(GO) run ./cmd/cdcstreamd --demo

## test: every test — Go (race detector on), the polyglot clients, the deployment artefacts,
## scale-out behind HAProxy and chaos.
test: test-go test-polyglot test-deploy test-scale test-chaos

test-go: $(GOTESTSUM)
	$(GOTESTSUM) --format testname -- -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v -e /internal/polyglot -e /internal/scaletest)

-include examples/polyglot.mk
-include deploy/haproxy/haproxy.mk

## test-deploy: the Dockerfile (its build stage run outside Docker), the Kubernetes manifests,
## the alerting rules (promtool) and dashboard, and the polyglot install's verification. A
## module of its own (deploy/go.mod), so that the Kubernetes and Prometheus libraries stay out
## of cdcstream's go.mod.
test-deploy: bin/promtool
	cd deploy && $(GO) vet ./... && CDCSTREAM_PROMTOOL=$(CURDIR)/bin/promtool $(GO) test -race -count=1 -timeout 20m ./...

# promtool (Prometheus' rule checker) at the version pinned in deploy/go.mod, built before the
# tests so that its long first build does not count against their timeout.
bin/promtool: deploy/go.mod deploy/go.sum
	cd deploy && $(GO) build -o ../bin/promtool github.com/prometheus/prometheus/cmd/promtool

## test-neo4j: prove the service on a real Neo4j Enterprise server (5.13+, CDC FULL, an admin
## user): NEO4J_TEST_URI=neo4j://host:7687 NEO4J_TEST_USER=neo4j NEO4J_TEST_PASSWORD=... make test-neo4j
test-neo4j:
	@test -n "$$NEO4J_TEST_URI" || { echo "set NEO4J_TEST_URI, NEO4J_TEST_USER, NEO4J_TEST_PASSWORD (and NEO4J_TEST_DATABASE)"; exit 2; }
	$(GO) test -count=1 -v -run '/neo4j$$' ./internal/e2e/ ./internal/neo4jcdc/

## ci-checks: generated code up to date, buf lint/format/breaking, gofmt, go vet.
ci-checks: generate
	@git diff --exit-code -- gen/ internal/apidesc/ || (echo "gen/ or internal/apidesc/ is stale: run make generate and commit"; exit 1)
	$(MAKE) lint breaking

## ci: everything CI checks, then every test.
ci: ci-checks test

## bench: the benchmarks behind docs/performance.md. `make bench-hub` alone runs the hub's
## (internal/hubbench); HUBBENCH selects some by name, e.g. make bench-hub HUBBENCH=OneStream.
bench: bench-hub
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/neo4jsim/ ./internal/neo4jcdc/ ./server/ ./internal/e2e/

HUBBENCH ?= .
## bench-hub: the hub's cost per subscriber, side by side in one run (docs/performance.md,
## "The hub: cost per subscriber"): one stream direct vs service (6 alternating pairs), then
## statements/s and memory for 1/200/2 000 subscriptions, fan-out to 100, commit latency.
bench-hub:
	$(GO) test -run '^$$' -bench '$(HUBBENCH)' -benchtime 1x -timeout 30m ./internal/hubbench/ -hubbench.pairs 6

## fuzz: run each fuzz target briefly (FUZZTIME, default 20s).
FUZZTIME ?= 20s
fuzz:
	@for p in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$p 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

clean:
	rm -rf bin examples/python/gen examples/java/gen examples/java/classes
