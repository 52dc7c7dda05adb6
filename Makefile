# The README's two commands: `make demo` and `make test`. Both run `make install` first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	mkdir -p var
	$(BIN)/ehelse db upgrade
	$(BIN)/ehelse serve

test: install
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
