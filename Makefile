# ytcaption — see README.md. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...

.PHONY: all build run test test-env fuzz bench chaos chaos-record clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ytcaption ./control-plane/cmd/ytcaption
	$(GO) build -trimpath -o $(BIN)/ytcaption-agent ./agent/cmd/ytcaption-agent

## run: install missing media tools, build, start the embedded dev stack.
run:
	@bash test/env/bootstrap.sh --tools-only
	@$(MAKE) --no-print-directory build
	$(BIN)/ytcaption dev

## test-env: install and start PostgreSQL, Redis, MinIO and the media tools.
test-env:
	@bash test/env/bootstrap.sh

## test: everything the tests need, then every test, then short fuzz runs.
## Measurements tests make (e.g. cross-replica wake-up latency, the short chaos
## run's table) go to .cache/report and are printed at the end; tests never
## write into the tree.
REPORT := $(CURDIR)/.cache/report
test: test-env build
	@rm -rf $(REPORT) && mkdir -p $(REPORT)
	source .cache/test.env && YTCAPTION_BIN=$(CURDIR)/$(BIN) YTCAPTION_REPORT_DIR=$(REPORT) \
		$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@$(MAKE) --no-print-directory fuzz
	@echo "--- measurements"; cat $(REPORT)/*.txt $(REPORT)/*.md 2>/dev/null || true

FUZZTIME ?= 5s
fuzz:
	@bash test/env/fuzz.sh $(FUZZTIME)

## chaos: the long fault-injection run (test/chaos); writes its results table
## to .cache/chaos/chaos-long.md. `make test` runs the short version.
CHAOS_REPORT := $(CURDIR)/.cache/chaos
chaos: test-env build
	@mkdir -p $(CHAOS_REPORT)
	source .cache/test.env && YTCAPTION_BIN=$(CURDIR)/$(BIN) YTCAPTION_CHAOS=long YTCAPTION_REPORT_DIR=$(CHAOS_REPORT) \
		$(GO) test -count=1 -v -timeout 45m -run TestChaos ./test/chaos/

## chaos-record: put the last `make chaos` table into docs/reliability.md (on
## purpose, to commit it); it replaces the table there.
chaos-record:
	@bash test/env/chaos-record.sh $(CHAOS_REPORT)/chaos-long.md docs/reliability.md

## bench: start the control plane on PostgreSQL + Redis, run every benchmark
## of test/bench (River side by side, pgbench for the insert ceiling), print
## "bench: <metric> <value> <unit>" lines and update docs/performance.md.
bench: test-env build
	source .cache/test.env && $(GO) run ./test/bench/cmd/ytcaption-bench -bin $(BIN)/ytcaption | tee .cache/bench.txt

clean:
	rm -rf $(BIN)
