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
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 18

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
	DEMOSYNC_BIN="$(BIN_DIR)/demosync" swift test $(SWIFT_FLAGS) --skip-build

clean: ## Remove build products (keeps .deps)
	rm -rf .build

install: release ## Copy demosync to $(PREFIX)/bin (default ~/.local/bin)
	@mkdir -p "$(PREFIX)/bin"
	cp "$$(swift build -c release --show-bin-path)/demosync" "$(PREFIX)/bin/demosync"
	@echo "installed $(PREFIX)/bin/demosync"
