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

.PHONY: run test install demo publish live public nyc ingest bench chromium clean help

help:
	@echo "make run | make test | make demo | make publish | make live | make public | make nyc | make bench | make clean"

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
	$(VENV)/bin/gunicorn --no-control-socket -w $(WORKERS) -b 127.0.0.1:$(PORT) app:server

# The public transparency site alone, as its own process (opens only the public snapshot).
public: demo
	CITYOPS_MODE=public $(VENV)/bin/gunicorn --no-control-socket -w $(WORKERS) -b 127.0.0.1:$(PUBLIC_PORT) app:server

# The real New York open-data pack (data/samples/nyc) in its own var dir, served like `run`
# but without the live feed (it would write simulated readings into real data).
NYC_VAR := var/nyc
nyc: install
	@if [ ! -f "$(NYC_VAR)/warehouse.duckdb" ]; then CITYOPS_VAR_DIR=$(NYC_VAR) $(PY) -m data.ingest nyc data/samples/nyc; fi
	CITYOPS_VAR_DIR=$(NYC_VAR) $(PY) -m data.publish
	@echo "CityOps on NYC open data at http://127.0.0.1:$(PORT)"
	CITYOPS_VAR_DIR=$(NYC_VAR) $(VENV)/bin/gunicorn --no-control-socket -w $(WORKERS) -b 127.0.0.1:$(PORT) app:server

# Browser tests need Chromium: install it from Debian when missing and we are root.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; fi

test: install chromium
	$(PY) -m pytest -q

bench: install
	$(PY) -m bench

clean:
	rm -rf var tests/screenshots bench/results .pytest_cache
