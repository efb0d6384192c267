# The two commands a newcomer needs: `make dev` and `make test`.
SHELL := /bin/bash
VENV := .capydb/venv
export CAPYDB_MOTO_SERVER := $(CURDIR)/$(VENV)/bin/moto_server

.PHONY: dev test deps lint openapi walkthrough fuzz browser invoke cli-release unit integration soak bench clean

## Start moto, the region clusters and the local runtime on 127.0.0.1:3000 (Ctrl-C stops).
dev:
	infra/dev.sh

## Everything CI runs: formatting, lints (Rust, template, OpenAPI, the dashboard's Prettier and
## TypeScript), the README walkthrough with the dashboard's browser suite, unit and integration tests.
# The walkthrough runs first, so the binaries it uses come from `make dev`'s build alone.
# Lambda binaries carry no tests of their own: `--lib --test '*'` skips linking a test
# harness for each of them. The integration suite runs the `capydb` binary and the clusters run
# the WAL archive helper, and the local runtime starts `capydb-lambda` as the container task; all are built first.
test: deps lint walkthrough
	cargo build -p capydb-cli --bin capydb -p capydb-functions --bin capydb-wal-archive --bin capydb-lambda
	cargo test --workspace --lib --test '*' --no-fail-fast
	@echo "make test: the dashboard's screenshots are in target/dashboard-screenshots (look at them)"

deps:
	infra/install-deps.sh --browser

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 .capydb/sam-venv/bin/sam validate --lint
	$(VENV)/bin/openapi-spec-validator api/openapi.json
	cd dashboard && npm run --silent types >/dev/null && npm run --silent lint

## Regenerate api/openapi.json from the contract crate (a unit test fails while it is stale).
openapi:
	cargo run -q -p capydb-api --bin capydb-openapi > api/openapi.json

## The README's walkthrough against a `make dev` of its own (other ports, a throw-away state folder).
walkthrough: deps
	$(VENV)/bin/python tests/walkthrough.py

## Fuzz a running `make dev` from its OpenAPI document (its exports in the environment).
fuzz: deps
	$(VENV)/bin/python tests/fuzz.py

## The dashboard's browser suite (Playwright + Debian chromium) against your running `make dev`.
## It adds backups, previews, a schedule and restore points to the demo project, and overwrites
## (then undoes) its production database. Screenshots: target/dashboard-screenshots.
browser: deps
	@test -f "$(STATE_DIR)/sign-in.url" || { echo "start \`make dev\` first: it writes $(STATE_DIR)/sign-in.url" >&2; exit 1; }
	cd dashboard && link=$$(cat "$(STATE_DIR)/sign-in.url") && CAPYDB_STATE_DIR="$(STATE_DIR)" \
	  CAPYDB_SIGN_IN_URL="$$link" CAPYDB_API_URL="$${link%%/#*}" npm run --silent e2e

## Run one function's handler on one event against the running `make dev` (no Docker, no AWS):
## make invoke FN=BackupsListFunction EVENT=events/BackupsListFunction.json
STATE_DIR := $(or $(CAPYDB_STATE_DIR),$(CURDIR)/.capydb)
invoke:
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function logical id in template.yaml> EVENT=events/<file>.json" >&2; exit 2; }
	@test -f "$(STATE_DIR)/runtime.env" || { echo "start \`make dev\` first: it writes $(STATE_DIR)/runtime.env" >&2; exit 1; }
	@cargo build --quiet -p capydb-functions --bin capydb-invoke
	@set -a; . "$(STATE_DIR)/runtime.env"; set +a; CAPYDB_STATE_DIR="$(STATE_DIR)" RUST_LOG=warn target/debug/capydb-invoke "$(FN)" "$(EVENT)"

## Release builds of the `capydb` CLI into dist/: linux x86_64 always; linux arm64 as well when
## its Rust target (`rustup target add aarch64-unknown-linux-gnu`) and cargo-zigbuild are there.
CLI_TARGETS = x86_64-unknown-linux-gnu $(if $(shell command -v cargo-zigbuild && rustup target list --installed 2>/dev/null | grep -x aarch64-unknown-linux-gnu),aarch64-unknown-linux-gnu)
cli-release:
	@mkdir -p dist
	@for t in $(CLI_TARGETS); do \
	  if [ "$$t" = x86_64-unknown-linux-gnu ]; then cargo build --release -p capydb-cli --bin capydb --target $$t; \
	  else cargo zigbuild --release -p capydb-cli --bin capydb --target $$t.2.17; fi || exit 1; \
	  tar -C target/$$t/release -czf dist/capydb-$$t.tar.gz capydb && sha256sum dist/capydb-$$t.tar.gz; \
	done

## The fast tier: every crate's unit tests (no moto, no PostgreSQL); prints how many ran and how
## long the tests themselves took, apart from compiling them.
unit:
	@mkdir -p target; set -o pipefail; cargo test --workspace --lib 2>&1 | tee target/unit-tests.log
	@awk '/^test result:/ { n += $$4; f += $$6; s += $$(NF) + 0 } \
	  END { printf "make unit: %d tests passed, %d failed, in %.2f s of test time\n", n, f, s }' target/unit-tests.log

integration: deps
	cargo build -p capydb-cli --bin capydb -p capydb-functions --bin capydb-wal-archive --bin capydb-lambda
	cargo test -p capydb-tests --test integration

## Five projects backing up and restoring at once under random faults for DURATION (90s, 10m,
## 1h; default 10m), then the fault suite's invariants over all of it; prints its tables (kept
## in target/soak-report.md). The runtime's metric lines are left out of the output.
DURATION ?= 10m
soak: deps
	cargo build -p capydb-cli --bin capydb -p capydb-functions --bin capydb-wal-archive --bin capydb-lambda
	set -o pipefail; CAPYDB_SOAK_DURATION=$(DURATION) cargo test -p capydb-tests --test integration soak::soak \
	  -- --ignored --nocapture --exact 2>&1 | grep --line-buffered -v '"_aws":'

## Throughput and memory against pg_dump / pg_restore (release build, its own moto and cluster).
# BENCH_SCALE (pgbench scale, default 20) and BENCH_RUNS (default 3) tune it; not part of `test`.
bench: deps
	cargo build --release -p capydb-functions --bin capydb-wal-archive
	cargo run --release -p capydb-bench

clean:
	infra/cluster.sh stop .capydb/clusters/local-1 || true
	infra/cluster.sh stop .capydb/clusters/local-2 || true
	rm -rf .capydb target
