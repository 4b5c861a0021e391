# Two entry points for a fresh machine: `make book` and `make test`.
# Both create .venv and install what is missing; nothing else needs doing by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.wconv-installed
ASSETS_STAMP := node_modules/.wconv-installed
export WCONV_PROFILE ?= book

.PHONY: book test bench env clean

env: $(ENV_STAMP)

$(ENV_STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

book: $(ENV_STAMP)
	$(PY) -m wconv.book build

test: $(ENV_STAMP)
	$(PY) -m pytest

bench: $(ENV_STAMP)
	$(PY) -m wconv.bench

clean:
	rm -rf _build
