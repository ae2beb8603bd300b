# HAProxy, the real gRPC load balancer in front of three cdcstreamd replicas in `make test-scale`
# (internal/scaletest). Included by the top-level Makefile. Targets:
#   scale-deps   install HAProxy from Debian (idempotent: apt runs only when it is missing) and
#                check that the installed binary runs and speaks HTTP/2 to clients and servers
#   test-scale   the scale-out test: neo4jsim, three cdcstreamd behind HAProxy, the Go client
#                library and cdctail through it, replicas SIGKILLed one at a time
#   test-chaos   the chaos test: >= 100 000 changes through neo4jsim's faults (dropped
#                connections, transient failures), cdcstreamd and cdctail SIGKILLed
# (both tests are in internal/scaletest, which test-go leaves out)
# Without HAProxy test-scale is reported as skipped by name (a failure with
# CDCSTREAM_REQUIRE_POLYGLOT=1, as in CI).

GO         ?= go
SCALE_APT  := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
SCALE_DEBS := haproxy

.PHONY: scale-deps test-scale test-chaos

## scale-deps: Debian's HAProxy, verified: it runs and has HTTP/2 on both sides (the test also
## checks the rendered deploy/haproxy/cdcstream.cfg.tmpl with `haproxy -c` before using it).
scale-deps:
	@missing=""; for p in $(SCALE_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "scale-deps: Debian packages already installed"; else \
		echo "scale-deps: installing$$missing"; \
		$(SCALE_APT) update && $(SCALE_APT) install -y --no-install-recommends $$missing; \
	fi
	@export PATH="$$PATH:/usr/sbin"; \
	command -v haproxy >/dev/null || { echo "scale-deps: FAILED: no haproxy binary after installing $(SCALE_DEBS)"; exit 1; }; \
	haproxy -vv | grep -Eq '^ +h2 : mode=HTTP +side=FE\|BE' || { echo "scale-deps: FAILED: this haproxy has no HTTP/2 multiplexer for both sides (haproxy -vv)"; exit 1; }; \
	echo "scale-deps: $$(haproxy -v | head -1) with HTTP/2 front and back ends"

## test-scale: three cdcstreamd behind HAProxy, replicas SIGKILLed one at a time; prints the
## verdict line (changes logged, delivered, lost, repeated, per replica). Skipped by name
## without HAProxy (a failure with CDCSTREAM_REQUIRE_POLYGLOT=1, as in CI).
test-scale:
	$(GO) test -race -count=1 -v -timeout 10m -run 'TestScaleOut|TestHealthCheck|TestCompare|TestRestartRepeats' ./internal/scaletest/

## test-chaos: one cdcstreamd and a cdctail process through >= 100 000 changes while neo4jsim
## drops every Bolt connection every 3s and fails 5% of statements, cdcstreamd and cdctail
## each SIGKILLed three times; prints the verdict line. Needs no HAProxy.
test-chaos:
	$(GO) test -race -count=1 -v -timeout 15m -run 'TestChaos' ./internal/scaletest/
