# DemoSync — `make run` starts the whole system locally, `make test` runs every test.
# Both install whatever is missing first (scripts/deps.sh, idempotent).

SHELL := /bin/bash
.DEFAULT_GOAL := help
DEPS_ENV := .deps/env.mk

-include $(DEPS_ENV)

CONFIGURATION ?= debug
PREFIX ?= $(HOME)/.local
SWIFT_FLAGS := -c $(CONFIGURATION)
ifneq ($(strip $(RDKAFKA_PREFIX)),)
export PKG_CONFIG_PATH := $(RDKAFKA_PREFIX)/lib/pkgconfig
SWIFT_FLAGS += -Xlinker -rpath -Xlinker $(RDKAFKA_PREFIX)/lib
endif
export DEMOSYNC_TANSU := $(TANSU)

BIN_DIR = $(shell swift build $(SWIFT_FLAGS) --show-bin-path 2>/dev/null)

.PHONY: help deps build release run test clean install

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 18

deps: ## Install what is missing (Debian packages, librdkafka >= 2.2, the local broker)
	@./scripts/deps.sh

build: deps ## Build demosync (CONFIGURATION=debug|release)
	@$(MAKE) --no-print-directory _build

_build:
	swift build $(SWIFT_FLAGS) --product demosync

release: ## Build the release binary
	@$(MAKE) --no-print-directory build CONFIGURATION=release

run: deps ## Start broker, simulator and API in the foreground (Ctrl-C stops all three)
	@$(MAKE) --no-print-directory _build CONFIGURATION=release
	@DEMOSYNC_BIN="$$(swift build -c release --show-bin-path)/demosync" ./scripts/run-local.sh

test: deps ## Install what is missing and run every test
	@$(MAKE) --no-print-directory _test

_test:
	swift build $(SWIFT_FLAGS) --build-tests
	DEMOSYNC_BIN="$(BIN_DIR)/demosync" DEMOSYNC_REQUIRE_PROMTOOL=1 swift test $(SWIFT_FLAGS) --skip-build

clean: ## Remove build products (keeps .deps)
	rm -rf .build

install: release ## Copy demosync to $(PREFIX)/bin (default ~/.local/bin)
	@mkdir -p "$(PREFIX)/bin"
	cp "$$(swift build -c release --show-bin-path)/demosync" "$(PREFIX)/bin/demosync"
	@echo "installed $(PREFIX)/bin/demosync"

# --- Benchmarks and the soak-and-fault suite (issue 5; not part of `make test`) -------------------
# Release builds go to their own scratch path, so that they never wait on a debug build's lock.

BENCH_VENV := .deps/bench-venv
BENCH_SCRATCH ?= .build-bench
BENCH_SWIFT_FLAGS := -c release --scratch-path $(BENCH_SCRATCH)
ifneq ($(strip $(RDKAFKA_PREFIX)),)
BENCH_SWIFT_FLAGS += -Xlinker -rpath -Xlinker $(RDKAFKA_PREFIX)/lib
endif
BENCH_BIN_DIR = $(shell swift build $(BENCH_SWIFT_FLAGS) --show-bin-path 2>/dev/null)

.PHONY: bench-deps bench soak _bench_build _bench _soak reproduce-broker

bench-deps: deps ## Install what bench and soak need: wrk (Debian), a venv with matplotlib, schemathesis, kafka-python
	@command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	@[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	@$(BENCH_VENV)/bin/python -c 'import matplotlib, schemathesis, kafka' 2>/dev/null \
		|| $(BENCH_VENV)/bin/pip install -q 'matplotlib>=3.8,<4' 'schemathesis==4.32.5' 'kafka-python==3.0.12'

_bench_build:
	swift build $(BENCH_SWIFT_FLAGS) --product demosync
	swift build $(BENCH_SWIFT_FLAGS) --product demosync-bench

bench: bench-deps ## Benchmarks as ratios to same-run baselines → docs/benchmarks.md (BENCH_ARGS=--quick)
	@$(MAKE) --no-print-directory _bench_build
	@$(MAKE) --no-print-directory _bench

_bench:
	$(BENCH_VENV)/bin/python bench/run_bench.py --bin-dir "$(BENCH_BIN_DIR)" $(BENCH_ARGS)

soak: bench-deps ## Soak and fault suite, each scenario time-bounded → docs/reliability.md (SOAK_ARGS)
	@$(MAKE) --no-print-directory _bench_build
	@$(MAKE) --no-print-directory _soak

_soak:
	$(BENCH_VENV)/bin/python bench/soak.py --bin-dir "$(BENCH_BIN_DIR)" $(SOAK_ARGS)

# Three defects of the local broker (Tansu) and the product's fetch pattern replayed on it alone, with kafka-python and a raw wire client instead of our wrapper
# (bench/reproductions/README.md). No Swift build; each script starts and stops its own broker.
reproduce-broker: bench-deps ## Reproduce Tansu's end-offset under-report, its slowdown as a partition fills, its live-reader gaps, and the product's fetch pattern alone (~5 min)
	$(BENCH_VENV)/bin/python bench/reproductions/tansu_watermark.py
	$(BENCH_VENV)/bin/python bench/reproductions/tansu_fetch_growth.py $(REPRODUCE_ARGS)
	$(BENCH_VENV)/bin/python bench/reproductions/tansu_live_gap.py
	$(BENCH_VENV)/bin/python bench/reproductions/tansu_fetch_pattern.py
