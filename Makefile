# Two entry points for a fresh machine: `make book` and `make test`.
# Both create .venv and install what is missing; nothing else needs doing by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.wconv-installed
ASSETS_STAMP := node_modules/.wconv-installed
# The book's profile (smoke | book | full); the tests choose their own.
WCONV_PROFILE ?= book

.PHONY: book assets test bench data env clean publish

env: $(ENV_STAMP)

$(ENV_STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The book: `npm ci` when node_modules/ is missing or stale (stamp $(ASSETS_STAMP)), copy the
# browser assets into book/vendor/, then `jupyter-book build . -W -n --keep-going --all` with
# WCONV_PROFILE (default book). All of it lives in tools/build_book.py, which the tests reuse.
book: $(ENV_STAMP)
	$(PY) tools/build_book.py --profile $(WCONV_PROFILE)

# Build the book, then commit _build/html to the gh-pages branch and push it to origin
# (ghp-import -n: add .nojekyll, -p: push, -f: force the push). For a repository whose Pages
# source is the gh-pages branch; .github/workflows/book.yml publishes with GitHub Actions.
publish: book
	$(VENV)/bin/ghp-import -n -p -f _build/html

# Only the offline browser assets (MathJax, RequireJS, ipywidgets embed manager).
assets: $(ENV_STAMP)
	$(PY) tools/build_book.py assets

test: $(ENV_STAMP)
	$(PY) -m pytest

bench: $(ENV_STAMP)
	$(PY) -m wconv bench

# The data sets the book's stored runs were measured on (about 260 MB; checksummed, resumable,
# sets already present are left alone) into WCONV_DATA, else data/. DIV2K (3.9 GB) is left
# out: with it on disk, chapter 5's protocol becomes DIV2K and its stored runs no longer apply.
# Another list: make data DATA_SETS="div2k-valid"; everything: python -m wconv data fetch --all.
DATA_SETS ?= cifar100 bsds500 cbsd68 kodak24 train400 bsd68 set12
data: $(ENV_STAMP)
	$(PY) -m wconv data fetch $(DATA_SETS)

clean:
	rm -rf _build
