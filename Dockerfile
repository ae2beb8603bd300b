# cdcstream container image: cdcstreamd (the entrypoint), cdctail and neo4jsim, static binaries
# on distroless "static" (no shell, no libc), running as the unprivileged user 65532.
#
#   docker build -t cdcstream .
#   docker run --rm -p 50051:50051 cdcstream --demo --listen=:50051
#
# No HEALTHCHECK: orchestrators probe the gRPC health service (deploy/kubernetes uses
# Kubernetes' grpc probes); `docker inspect` health would need a shell or a probe binary.
# deploy/image_test.go runs the build stage's commands outside Docker (it reads them from this
# file) and starts the result as user 65532 with an empty environment.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
RUN go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/cdcstreamd ./cmd/cdctail ./cmd/neo4jsim

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cdcstreamd /out/cdctail /out/neo4jsim /usr/local/bin/
USER 65532:65532
# gRPC (--listen) and Prometheus metrics (--metrics-listen), as deploy/kubernetes sets them.
EXPOSE 50051 9095
ENTRYPOINT ["/usr/local/bin/cdcstreamd"]
