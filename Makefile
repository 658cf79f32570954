# ytcaption — see README.md. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...

.PHONY: all build run test test-env fuzz bench chaos chaos-record screenshots console-vendor package dashboards clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ytcaption ./control-plane/cmd/ytcaption
	$(GO) build -trimpath -o $(BIN)/ytcaption-agent ./agent/cmd/ytcaption-agent

## package: dist/ytcaption-agent_<version>_amd64.deb, dist/ytcaption_<version>_amd64.deb
## and their .rpm, built with nfpm (packaging/); the version is `git describe`'s.
package:
	$(GO) run ./packaging/cmd/package -out dist

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
## "bench: <metric> <value> <unit>" lines and update docs/performance.md; then
## the same again with `stress-ng --cpu 2` beside it (the loaded run).
bench: test-env build
	source .cache/test.env && $(GO) run ./test/bench/cmd/ytcaption-bench -bin $(BIN)/ytcaption | tee .cache/bench.txt
	source .cache/test.env && $(GO) run ./test/bench/cmd/ytcaption-bench -bin $(BIN)/ytcaption -stress-cpu 2 | tee .cache/bench-loaded.txt

## screenshots: run the console's browser test on real data and save a
## screenshot of each page in docs/console/ (on purpose, to commit them).
screenshots: test-env build
	@mkdir -p docs/console
	source .cache/test.env && YTCAPTION_BIN=$(CURDIR)/$(BIN) YTCAPTION_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console \
		$(GO) test -count=1 -timeout 15m -run 'TestConsole$$' ./test/e2e/

## console-vendor: fetch the pinned uPlot release from npm and copy its
## files into the console's embedded assets (committed; `make build` needs
## no npm).
UPLOT := 1.6.32
CONSOLE_STATIC := control-plane/internal/console/static
console-vendor:
	@rm -rf .cache/uplot && mkdir -p .cache/uplot
	cd .cache/uplot && npm pack --silent uplot@$(UPLOT) && tar xzf uplot-$(UPLOT).tgz
	rm -f $(CONSOLE_STATIC)/uplot-*.min.js $(CONSOLE_STATIC)/uplot-*.min.css
	cp .cache/uplot/package/dist/uPlot.iife.min.js $(CONSOLE_STATIC)/uplot-$(UPLOT).min.js
	cp .cache/uplot/package/dist/uPlot.min.css $(CONSOLE_STATIC)/uplot-$(UPLOT).min.css
	cp .cache/uplot/package/LICENSE $(CONSOLE_STATIC)/uplot-LICENSE.txt
	@echo "uPlot $(UPLOT) vendored; update the version in $(CONSOLE_STATIC)/index.html if it changed"

## dashboards: regenerate the Grafana dashboards (jobs/monitoring/dashboards/*.json,
## committed) from their Go source; a test fails when the two differ.
dashboards:
	$(GO) run ./jobs/monitoring/dashboards/gen -out jobs/monitoring/dashboards

clean:
	rm -rf $(BIN) dist
