# Two commands matter: `make run` and `make test`. Everything is installed into .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
WORKSPACE ?= $(CURDIR)/workspace
PORT ?= 8501
export CROWDLENS_WORKSPACE := $(WORKSPACE)

.PHONY: run test lint bench install install-dev demo clean

# uv resolves and installs the dependencies in parallel (a fresh install in seconds, not minutes):
# the uv on PATH where there is one, else uv installed into the venv by pip (one wheel, no build)
UV := $(or $(shell command -v uv 2>/dev/null),$(BIN)/uv)
INSTALL = VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip install --quiet --python $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv

$(STAMP): pyproject.toml analytics/sources/fast_read.c | $(BIN)/python $(UV)
	$(INSTALL) -e .
	touch $@

# the dev install compiles the bytecode (uv does not by default): where PYTHONDONTWRITEBYTECODE is
# set, as on CI, each of the many processes the tests start would compile pandas, streamlit and
# scipy again (about 9 s each)
$(DEV_STAMP): pyproject.toml analytics/sources/fast_read.c | $(BIN)/python $(UV)
	$(INSTALL) --compile-bytecode -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

# the demo workspace is built only when the workspace does not exist yet
$(WORKSPACE)/versions: | $(STAMP)
	$(BIN)/crowdlens demo --workspace $(WORKSPACE)

demo: $(WORKSPACE)/versions

run: $(STAMP) $(WORKSPACE)/versions
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT) --server.address 127.0.0.1

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# the project's own modules compiled once, for the many processes the tests start
test: lint
	$(BIN)/python -m compileall -q -j 0 analytics dashboard benchmarks
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
