// Package deploy holds no code: it is the module of the deployment artefacts' tests, kept out
// of the main module so that the Kubernetes and Prometheus libraries they decode with never
// become dependencies of cdcstream itself. `make test-deploy` (part of `make test`) runs them.
//
// What they prove, each against the real thing rather than a description of it:
//
//   - image_test.go: the Dockerfile's build stage, executed outside Docker (its COPY, ENV and
//     RUN lines, read from the file, .dockerignore applied), yields static binaries built
//     with CGO_ENABLED=0, -trimpath and -ldflags '-s -w'; the final stage is distroless,
//     numeric non-root and HEALTHCHECK-free; and cdcstreamd from it serves gRPC health
//     SERVING as user 65532 with an empty environment.
//   - kubernetes_test.go: every manifest of kubernetes/ (the base, the component, the example
//     overlay as kustomize builds it) decodes strictly into the Kubernetes API types, and the
//     cross-references hold: probe and Service ports, selectors, Secrets, real cdcstreamd flags
//     and environment variables, the termination grace period against --shutdown-grace.
//   - monitoring_test.go: promtool checks and unit-tests the alerting rules, every dashboard
//     query parses, and every metric name they use is one cdcstreamd actually exposes (from a
//     scrape of a running cdcstreamd).
//   - verifydeps_test.go: the polyglot install's verification (examples/verify-deps.sh, run
//     by `make polyglot-deps`) passes here and fails, naming libprotobuf-dev, when protoc
//     cannot see the well-known types.
package deploy
