# The README's commands. `make run` and `make test` are the whole quick start.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
# PostgreSQL for the second test pass (trust auth on this machine's local server).
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test test-sqlite test-postgres test-calendar bench lint format clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# The camera scanner's QR decoder (zxing-wasm) and the offline card code's QR and Code 128
# generators, and axe-core (run by the browser tests on the member pages), come from the npm
# registry and are served by the app itself, never from a CDN.
VENDOR := rewards/static/vendor/zxing-reader.js rewards/static/vendor/qrcode-generator.js \
	rewards/static/vendor/jsbarcode.code128.min.js rewards/static/vendor/axe.min.js
$(VENDOR) &: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent vendor
	@touch $(VENDOR)

install: $(BIN)/.installed $(VENDOR)

run: install
	$(BIN)/rewards db upgrade
	$(BIN)/rewards seed-demo --if-empty
	$(BIN)/rewards run --host $(HOST) --port $(PORT)

test: install test-sqlite test-postgres

# Two workers (pytest-xdist) per pass; each has its own database (see tests/conftest.py).
PYTEST_WORKERS ?= 2

test-sqlite: install
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The whole SQLite suite with the clock frozen on calendar edges (Asia/Shanghai): a month's end,
# the last seconds of a year (tests that move the clock cross into 1 January), the first
# seconds of a year, and 29 February. Slow (four passes): run before a release, not in CI.
CALENDAR_EDGES ?= 2027-01-31T23:59:50+08:00 2026-12-31T23:59:50+08:00 \
	2027-01-01T00:00:10+08:00 2028-02-29T23:59:50+08:00
test-calendar: install
	@for now in $(CALENDAR_EDGES); do \
		echo "== the clock at $$now =="; \
		REWARDS_TEST_NOW=$$now $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || exit 1; \
	done

# Runs when a PostgreSQL server answers; says so loudly when none does.
# REQUIRE_POSTGRES=1 (set by .ci/run) turns a missing server into a failure.
test-postgres: install
	@if $(BIN)/python -c "import sys, psycopg; psycopg.connect(sys.argv[1].replace('+psycopg', ''), connect_timeout=3).close()" "$(PG_TEST_URL)" 2>/dev/null; then \
		echo "== PostgreSQL pass ($(PG_TEST_URL)) =="; \
		REWARDS_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n $(PYTEST_WORKERS); \
	else \
		echo ""; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!!  PostgreSQL is NOT reachable at $(PG_TEST_URL)"; \
		echo "!!  The PostgreSQL test pass was SKIPPED: only SQLite was tested."; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		if [ -n "$(REQUIRE_POSTGRES)" ]; then exit 1; fi; \
	fi

bench: install
	@$(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache test-output
