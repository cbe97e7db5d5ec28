# syntax=docker/dockerfile:1
#
# pricing-engine container image: a static binary on distroless, run as the
# nonroot user (65532). Build:
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg REVISION=$(git rev-parse HEAD) -t pricing-engine .
#
# The build flags below must stay the same as the Makefile's `release` target:
#
#   CGO_ENABLED=0 go build -trimpath \
#     -ldflags "-s -w -X main.version=$VERSION -X main.revision=$REVISION" \
#     -o /out/pricing-engine ./cmd/pricing-engine

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source-only change reuses the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=$VERSION -X main.revision=$REVISION" \
      -o /out/pricing-engine ./cmd/pricing-engine

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="pricing-engine" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"
COPY --from=build /out/pricing-engine /pricing-engine
USER 65532:65532
# 8000: API (POST /api/v1/price). 8001: admin (/metrics, /healthz, /readyz,
# /docs, /debug/pprof/).
EXPOSE 8000 8001
# Distroless has no shell or curl: the binary checks its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/pricing-engine", "healthcheck"]
ENTRYPOINT ["/pricing-engine"]
