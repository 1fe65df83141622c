# xietong — set-up, demo and tests. `make demo` and `make test` are the two README commands.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP_PY := $(VENV)/.installed
STAMP_JS := node_modules/.installed
VENDOR := xietong/core/static/vendor/.built
LOCALES := $(wildcard xietong/locale/*/LC_MESSAGES/django.po)
MOS := $(LOCALES:.po=.mo)

.PHONY: setup demo test lint ci clean

setup: $(STAMP_PY) $(VENDOR) $(MOS)

$(BIN)/python:
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)" || { echo "Python 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP_PY): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(STAMP_JS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR): $(STAMP_JS) scripts/build-static.mjs
	npm run --silent build
	touch $@

xietong/locale/%/LC_MESSAGES/django.mo: xietong/locale/%/LC_MESSAGES/django.po $(STAMP_PY)
	$(BIN)/xietong compile_locales

demo: setup
	$(BIN)/xietong demo

test: setup
	$(BIN)/python -m pytest -n 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) node_modules var xietong/core/static/vendor
