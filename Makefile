# CityOps. The two commands a newcomer needs:
#   make run    install everything, build the demo city if missing, start the app + live feed
#   make test   install everything (Chromium too, when root), run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8050
PUBLIC_PORT ?= 8051
WORKERS ?= 2

.PHONY: run test check audit install demo publish live public nyc ingest bench bench-public chromium redis jdk postgres a11y plotly-bundle clean help

help:
	@echo "make run | make test | make demo | make publish | make live | make public | make nyc | make bench | make bench-public | make clean"

$(VENV)/.installed: requirements.txt
	@if ! $(PYTHON) -c "import ensurepip, venv" 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; \
	  else echo "python3-venv is missing: sudo apt-get install python3-venv"; exit 1; fi; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

# Build the demo city (only if there is no warehouse yet) and publish it.
demo: install
	@if [ ! -f "$${CITYOPS_VAR_DIR:-var}/warehouse.duckdb" ]; then $(PY) -m data.demo; fi
	@if [ ! -f "$${CITYOPS_VAR_DIR:-var}/CURRENT.json" ]; then $(PY) -m data.publish; fi
	@$(PY) -m data.users ensure-demo-admin

publish: install
	$(PY) -m data.publish

live: install
	$(PY) -m data.livefeed

# The app (ops + public pages, mode 'all') at http://127.0.0.1:$(PORT), with the live feed.
run: demo
	@set -m; \
	if [ "$${CITYOPS_LIVE_FEED:-true}" != "false" ]; then \
	  $(PY) -m data.livefeed & LIVE=$$!; \
	  trap 'kill $$LIVE 2>/dev/null; wait $$LIVE 2>/dev/null' EXIT INT TERM; fi; \
	echo "CityOps at http://127.0.0.1:$(PORT)  (public site: /public, wall: /wall)"; \
	if [ -f "$${CITYOPS_VAR_DIR:-var}/ADMIN_PASSWORD" ]; then \
	  echo "Sign in as admin: the password is in $${CITYOPS_VAR_DIR:-var}/ADMIN_PASSWORD  (manage users: python -m data.users)"; fi; \
	$(VENV)/bin/gunicorn -c gunicorn.conf.py --no-control-socket -w $(WORKERS) -b 127.0.0.1:$(PORT) app:server

# The public transparency site alone, as its own process (opens only the public snapshot).
public: demo
	CITYOPS_MODE=public $(VENV)/bin/gunicorn -c gunicorn.conf.py --no-control-socket -w $(WORKERS) -b 127.0.0.1:$(PUBLIC_PORT) app:server

# The real New York open-data pack (data/samples/nyc) in its own var dir, served like `run`
# but without the live feed (it would write simulated readings into real data).
NYC_VAR := var/nyc
nyc: install
	CITYOPS_VAR_DIR=$(NYC_VAR) $(PY) -m data.ingest nyc data/samples/nyc  # idempotent: unchanged files are skipped
	CITYOPS_VAR_DIR=$(NYC_VAR) $(PY) -m data.publish
	@CITYOPS_VAR_DIR=$(NYC_VAR) $(PY) -m data.users ensure-demo-admin
	@echo "CityOps on NYC open data at http://127.0.0.1:$(PORT)"
	CITYOPS_VAR_DIR=$(NYC_VAR) $(VENV)/bin/gunicorn -c gunicorn.conf.py --no-control-socket -w $(WORKERS) -b 127.0.0.1:$(PORT) app:server

# Browser tests need Chromium: install it from Debian when missing and we are root.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; fi

# The shared rate-limit test (tests/test_rate_limit_redis.py) starts its own redis-server.
redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server missing and not root: the shared rate-limit test will be skipped"; fi; fi

# The ops-store tests on PostgreSQL (marker ops_store / postgres) start their own server from
# Debian's binaries (initdb, pg_ctl; as root they run it as the package's 'postgres' user).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql missing and not root: the ops-store tests on PostgreSQL will be skipped"; fi; fi

# Rollups on Spark (tests/test_rollup_engines.py) need a Java runtime for pyspark.
jdk:
	@if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else echo "java missing and not root: the Spark rollup test will be skipped"; fi; fi

# The accessibility test (tests/test_public_a11y.py) runs axe-core from npm, pinned in
# tests/a11y/package-lock.json. npm comes from Debian when missing and we are root; `npm ci`
# runs only when node_modules is missing or the lock file changed (it needs the npm registry).
A11Y := tests/a11y
$(A11Y)/node_modules/.package-lock.json: $(A11Y)/package.json $(A11Y)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq npm >/dev/null; \
	  else echo "npm missing and not root: sudo apt-get install npm (the axe-core test needs it)"; exit 1; fi; fi
	cd $(A11Y) && npm ci --no-audit --no-fund --silent
	@touch $@

a11y: $(A11Y)/node_modules/.package-lock.json

# Known vulnerabilities in the installed packages (PyPI's advisory data). Where the package
# index is a mirror without PyPI's JSON API, pip-audit can only report that it could not audit.
audit: install
	@mkdir -p var; $(VENV)/bin/pip-audit --progress-spinner off > var/pip-audit.txt 2>&1; status=$$?; \
	  head -1 var/pip-audit.txt; \
	  skipped=$$(grep -c "could not be audited" var/pip-audit.txt); \
	  if [ "$$skipped" != 0 ]; then echo "pip-audit: $$skipped packages could not be audited (advisory service unreachable)"; fi; \
	  if [ $$status != 0 ]; then cat var/pip-audit.txt; fi; exit $$status

test: install chromium redis jdk postgres a11y audit
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=20

# The inner loop: every test that needs no browser, no Redis, no npm, no Spark and no PostgreSQL
# (ops-store tests run on SQLite only).
check: install
	$(PY) -m pytest -q -x -n 2 --dist loadfile -m "not browser and not spark and not postgres" -k "not postgresql" \
	  --ignore=tests/test_rate_limit_redis.py --ignore=tests/test_two_hosts.py

bench: install
	$(PY) -m bench

# Public site: first view in headless Chromium (time, bytes) and a loopback load test with
# 2 workers at 50 and 200 clients (see bench/public_load.py --help).
bench-public: install chromium
	$(PY) -m bench.public_load

# The partial plotly.js bundle the app serves (vendor/plotly/plotly-cityops.min.js, committed):
# rebuild it after changing vendor/plotly/traces.json or the plotly version (needs npm).
plotly-bundle:
	cd vendor/plotly && npm ci --no-audit --no-fund --silent && npm run -s build

clean:
	rm -rf var tests/screenshots bench/results .pytest_cache
