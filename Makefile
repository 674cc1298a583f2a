# Tributary — the two commands a fresh machine needs:
#   make demo   services up, sample schemas, daemon running, events visible
#   make test   services up, then the whole suite, integration tests included
SHELL := /bin/bash
GO ?= go
# Integration packages share one set of servers and some tests freeze or
# reconfigure them, so packages run one at a time.
TEST_FLAGS ?= -p 1 -count=1 -timeout 25m

.PHONY: test services services-down build demo vet bench

build:
	$(GO) build -o bin/tributary ./cmd/tributary

services:
	scripts/services up

services-down:
	scripts/services down

vet:
	$(GO) vet ./...

# The capture-level PostgreSQL tests run once more against PostgreSQL 18
# (the first run is on 15); the end-to-end scenarios stay on 15.
test: services
	$(GO) vet ./...
	TRIBUTARY_PG_VERSION=15 $(GO) test $(TEST_FLAGS) ./...
	TRIBUTARY_PG_VERSION=18 $(GO) test $(TEST_FLAGS) ./capture/postgres/

demo: services build
	scripts/demo/run

# Benchmark (docs/benchmarks.md): catch-up, latency and footprint of Tributary
# next to the physical limit and Debezium. BENCH_FLAGS=-quick for a short run.
bench: services build
	$(GO) run ./cmd/tributary-bench $(BENCH_FLAGS)
