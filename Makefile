# trilink — the two commands a user needs are `make demo` and `make test`.
# Each sets up a fresh machine from nothing: a .venv with pinned dependencies, the live
# picture's front end (npm ci + its build, from frontend/package-lock.json) and Debian's
# chromium for the browser tests.
PYTHON   ?= python3
NPM      ?= npm
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
WEB      := src/trilink/web/static
WEB_STAMP := $(WEB)/.built
CHROMIUM := /usr/bin/chromium
FRONTEND := frontend/package.json frontend/package-lock.json frontend/build.mjs \
            $(wildcard frontend/src/*)

.PHONY: demo test check lint typecheck bench setup serve clean chromium

setup: $(STAMP) $(WEB_STAMP) chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The picture's front end: npm's lock file pins every package; the build lands in
# src/trilink/web/static/ (not in git).
$(WEB_STAMP): $(FRONTEND)
	@command -v $(NPM) >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "npm is missing: installing Debian's nodejs and npm"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	  else \
	    echo "error: npm is missing. Install Node.js 18+ with npm (Debian: apt-get install nodejs npm), then run make setup again." >&2; \
	    exit 1; \
	  fi; }
	cd frontend && $(NPM) ci --no-audit --no-fund && $(NPM) run build
	touch $(WEB_STAMP)

# Debian's chromium drives the browser tests (Playwright with executable_path; never
# `playwright install`). Installed when missing and possible (root with apt-get).
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	    || echo "warning: could not install chromium; the browser tests will fail until $(CHROMIUM) exists (apt-get install chromium)" >&2; \
	else \
	  echo "warning: $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get); the browser tests will fail until it exists (apt-get install chromium)" >&2; \
	fi

demo: setup
	$(BIN)/trilink demo
	@echo
	@echo "The live picture (SIMULATION): run '$(BIN)/trilink serve' and open the address it"
	@echo "prints for a nation: http://127.0.0.1:8000/#token=... (one token per nation; Ctrl-C stops it)."
	@echo "Or 'make serve'."

serve: setup
	$(BIN)/trilink serve

# Two workers (pytest-xdist): the suite is mostly one core's Python, so on the 2-core CI
# machine two workers take ~10 min where one took ~20 (measured here, without set-up).
# Work stealing: the slow end-to-end tests (up to two minutes each) do not queue behind
# one another at the end (plain load scheduling took ~13.5 min).
test: setup
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/ruff check src tests benchmarks docs

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache \
	  frontend/node_modules $(WEB)
