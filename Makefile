# pricing-engine: a gnet-based drop-in replacement for the FastAPI dynamic
# pricing service. `make run` serves on :8000/:8001; `make test` is what CI runs.

SHELL       := /bin/bash
GO          ?= go
BIN         := bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
GOBIN_DIR   := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN_DIR)/staticcheck
STATICCHECK_VERSION := v0.8.2
KUBE_SCORE  := $(GOBIN_DIR)/kube-score
KUBE_SCORE_VERSION := v1.20.0

# The release flags: keep them identical to the Dockerfile's build stage
# (deploy/deploy_test.go and cmd/pricing-engine/release_test.go check that they are).
RELEASE_ENV     := CGO_ENABLED=0
RELEASE_FLAGS   := -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)"

.PHONY: deps deps-locust all build run run-redis bench-store bench-rules test unit e2e vet lint staticcheck fmt release validate locust bench bench-smoke soak reliability fuzz clean fleet-up fleet-down fleet-roll fleet-status kube-score run-tracing jaeger

all: build

## build: the server and the load generator into bin/
build:
	$(GO) build -o $(BIN)/pricing-engine ./cmd/pricing-engine
	$(GO) build -o $(BIN)/loadtest ./cmd/loadtest

## run: build and serve on :8000 (API) and :8001 (admin) with the embedded data; writes
## $(BIN)/admin-tokens with a fresh admin write token (mode 0600; the path is printed, the token is not)
ADMIN_TOKENS := $(BIN)/admin-tokens
run: build
	scripts/admin-token.sh $(ADMIN_TOKENS)
	./$(BIN)/pricing-engine --addr :8000 --admin-addr :8001 --admin-tokens-file $(ADMIN_TOKENS)

## run-redis: a local redis-server on 127.0.0.1:$(REDIS_PORT), the embedded data imported into it,
## and the server on :8000/:8001 serving from it (Ctrl-C stops both; see docs/STORE.md)
REDIS_PORT ?= 6390
run-redis: build
	@command -v redis-server >/dev/null || { echo "run-redis needs redis-server (Debian: apt-get install redis-server)"; exit 1; }
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
		--pidfile $(CURDIR)/$(BIN)/redis-$(REDIS_PORT).pid --logfile $(CURDIR)/$(BIN)/redis-$(REDIS_PORT).log
	@for i in $$(seq 100); do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.1; done
	./$(BIN)/pricing-engine import --store redis://127.0.0.1:$(REDIS_PORT) --embedded
	scripts/admin-token.sh $(ADMIN_TOKENS)
	trap 'kill $$(cat $(BIN)/redis-$(REDIS_PORT).pid)' EXIT; \
		./$(BIN)/pricing-engine --addr :8000 --admin-addr :8001 --store redis://127.0.0.1:$(REDIS_PORT) --admin-tokens-file $(ADMIN_TOKENS)

## jaeger: bin/jaeger, built from its own module tools/jaeger (a Go tool, pinned there so its
## large dependency graph stays out of go.mod); rebuilt only when that module changes
JAEGER := $(BIN)/jaeger
jaeger: $(JAEGER)
$(JAEGER): tools/jaeger/go.mod tools/jaeger/go.sum
	cd tools/jaeger && $(GO) build -o $(CURDIR)/$(JAEGER) github.com/jaegertracing/jaeger/cmd/jaeger

## run-tracing: Jaeger on loopback (OTLP/HTTP :$(JAEGER_OTLP_PORT), query :$(JAEGER_QUERY_PORT)) and the
## server on :8000/:8001 sending it the spans of sampled requests (TRACE_SAMPLE, default every
## request); find a request with /api/traces/<X-Request-Id> (docs/OPERATIONS.md)
JAEGER_OTLP_PORT  ?= 4318
JAEGER_QUERY_PORT ?= 16686
TRACE_SAMPLE      ?= 1
run-tracing: build $(JAEGER)
	JAEGER_OTLP_HTTP_PORT=$(JAEGER_OTLP_PORT) JAEGER_QUERY_PORT=$(JAEGER_QUERY_PORT) \
		./$(JAEGER) --config file:$(CURDIR)/tools/jaeger/config.yaml >$(BIN)/jaeger.log 2>&1 & echo $$! >$(BIN)/jaeger.pid
	@echo "Jaeger query API: http://127.0.0.1:$(JAEGER_QUERY_PORT)/api/traces/<X-Request-Id> (log: $(BIN)/jaeger.log)"
	trap 'kill $$(cat $(BIN)/jaeger.pid)' EXIT; \
		./$(BIN)/pricing-engine --addr :8000 --admin-addr :8001 \
		--trace-endpoint http://127.0.0.1:$(JAEGER_OTLP_PORT) --trace-sample $(TRACE_SAMPLE)

## test: the Debian packages the tests use (deps), vet, staticcheck, unit tests with the race
## detector, end-to-end and harness smoke tests
# (with the open-file limit raised for the load tests' connections)
test: deps
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	$(MAKE) vet staticcheck kube-score unit e2e bench-smoke

## deps: install the missing Debian packages the tests use (the one list: scripts/install-deps.sh)
deps:
	scripts/install-deps.sh

deps-locust:
	scripts/install-deps.sh --locust

unit:
	$(GO) test -race -count=1 -timeout 15m -skip E2E ./...

# The end-to-end suite: the real binary, started as a user would, spoken to
# over TCP (package cmd/pricing-engine builds it and runs it).
e2e: build $(JAEGER)
	PRICING_E2E_BINARY=$(CURDIR)/$(BIN)/pricing-engine PRICING_E2E_JAEGER=$(CURDIR)/$(JAEGER) $(GO) test -count=1 -timeout 10m -run 'E2E' ./cmd/... ./deploy/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@cp go.mod $(BIN)/.go.mod.before 2>/dev/null || { mkdir -p $(BIN) && cp go.mod $(BIN)/.go.mod.before; }; cp go.sum $(BIN)/.go.sum.before; \
	$(GO) mod tidy && cmp -s go.mod $(BIN)/.go.mod.before && cmp -s go.sum $(BIN)/.go.sum.before || { \
	echo "go mod tidy changes go.mod/go.sum: run it and commit the result"; \
	cp $(BIN)/.go.mod.before go.mod; cp $(BIN)/.go.sum.before go.sum; exit 1; }

staticcheck:
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(STATICCHECK) ./...

# kube-score: installed for the manifest checks in deploy/ (go test ./deploy runs it).
kube-score:
	@test -x $(KUBE_SCORE) || $(GO) install github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION)

lint: vet staticcheck

fmt:
	gofmt -w $$(git ls-files '*.go')

## release: the static binary exactly as the Dockerfile builds it
release:
	$(RELEASE_ENV) $(GO) build $(RELEASE_FLAGS) -o $(BIN)/release/pricing-engine ./cmd/pricing-engine

## validate: the classic acceptance test (seed profile, 10,000 users, 60 s) plus the largest user count holding the SLO
validate: build
	loadtest/validate.sh $(BIN)/pricing-engine $(BIN)/loadtest docs/validation

## locust: the classic workload through Locust (python3-locust), 30 s headless
locust: build deps-locust
	loadtest/locust.sh $(BIN)/pricing-engine

## bench: side-by-side benchmarks against net/http, fasthttp and the raw gnet limit
bench: bench-store bench-rules
	bench/run.sh

## bench-rules: in memory, no rules vs rules/testdata/example.yaml through the binary (bench/rules.sh, ~1 min)
bench-rules:
	bench/rules.sh 5 5

## bench-store: the Redis store against the memory store and fasthttp + go-redis, and the
## invalidation latency over 3 replicas (bench/cmd/storebench; docs/BENCHMARKS.md "Redis store")
bench-store:
	$(GO) run ./bench/cmd/storebench -rounds 3 -duration 10s

## bench-smoke: a few seconds of every benchmark harness path (part of make test)
bench-smoke:
	BENCH_SMOKE=1 bench/run.sh

## reliability: 1,000 non-reading pipeliners (peak RSS, normal P99) and SIGTERM under 5,000 req/s on 2,000 connections (0 lost); ~40 s
reliability: build
	bench/reliability.sh
	PRICING_E2E_BINARY=$(CURDIR)/$(BIN)/pricing-engine $(GO) test -count=3 -run E2EFDLimit ./cmd/pricing-engine

## soak: 30 minutes of mixed load with churn and hostile cases
soak: build
	loadtest/soak.sh $(BIN)/pricing-engine $(BIN)/loadtest

## fuzz: every fuzz target for FUZZTIME each (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg || exit 1; \
	  done; \
	done

## fleet-up / fleet-down / fleet-roll: Redis, 3 replicas and HAProxy on 127.0.0.1:8080 (docs/FLEET.md)
fleet-up: build
	deploy/local/fleet.sh up

fleet-down:
	deploy/local/fleet.sh down

fleet-roll:
	deploy/local/fleet.sh roll

fleet-status:
	deploy/local/fleet.sh status

clean:
	rm -rf $(BIN)
