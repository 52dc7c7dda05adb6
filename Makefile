# The README's two commands: `make demo` and `make test`. Both run `make install` first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Front-end packages of the portals (Designsystemet, htmx, axe-core for the tests), served
# from node_modules by /static: `npm ci` from package-lock.json when Node.js is present.
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package-lock.json
	@if [ -f package.json ] && command -v npm >/dev/null; then npm ci --no-audit --no-fund; \
	  else echo "install: npm not found; the portals need Node.js 20 (README)"; fi

install: $(STAMP) $(NODE_STAMP)

# The portals' browser tests drive Debian's chromium (Playwright with executable_path, never
# `playwright install`); installed with apt when we are root (CI), else they skip.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "browser: chromium not installed (apt-get install chromium); browser tests will skip"

# The embedded default: var/ehelse.sqlite, seeded once with a synthetic population (DESIGN.md).
demo: install
	mkdir -p var
	@if [ ! -f var/ehelse.sqlite ]; then \
	  $(BIN)/ehelse db upgrade --database sqlite:///var/ehelse.sqlite && \
	  $(BIN)/ehelse seed --patients 500 --seed 1 --database sqlite:///var/ehelse.sqlite \
	  || { rm -f var/ehelse.sqlite*; exit 1; }; \
	else $(BIN)/ehelse db upgrade --database sqlite:///var/ehelse.sqlite; fi  # a demo from an older checkout
	$(BIN)/ehelse serve --database sqlite:///var/ehelse.sqlite

test: install browser
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# wrk (a C load generator) makes the read benchmark's figures trustworthy on a small machine;
# installed with apt when we are root, else the benchmark falls back to its Python client.
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
	  || echo "bench: wrk not installed (apt-get install wrk); using the Python load generator"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
