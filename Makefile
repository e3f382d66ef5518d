# squad_nb: the two set-up commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip
TORCH := torch==2.13.0
N_WORKERS ?= 2

.PHONY: test demo install-dev install-demo lint export-check clean-check nbtest pytest nbtest-slow docs-check readme bench

$(PY):
	python3 -m venv $(VENV)

# torch first: its CPU build; a bare `torch` requirement would pull a multi-GB CUDA build
install-dev: $(PY)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[dev]"

install-demo: $(PY)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[demo]"

# The main job, offline: fine-tune, evaluate, save, reload, re-evaluate, retrain on the bundled sample
demo: install-demo
	$(BIN)/squad_nb demo

# The tests: line length, notebooks and module agree, notebooks are clean, notebooks run as tests, then pytest
test: install-dev lint export-check clean-check nbtest pytest

# Lines of at most 119 characters in squad_nb/, tools/ and bench/ (ruff's E501; nbdev's generated lines excepted)
lint:
	$(PY) tools/lint.py

export-check:
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain --untracked-files=all -- squad_nb)" ]; then \
	  git status --porcelain --untracked-files=all -- squad_nb; git --no-pager diff --stat -- squad_nb; \
	  echo "squad_nb/ differs from what the notebooks export: run nbdev_export and commit both"; exit 1; fi

clean-check:
	$(BIN)/nbdev_clean
	@if [ -n "$$(git status --porcelain --untracked-files=all -- nbs)" ]; then \
	  git status --porcelain --untracked-files=all -- nbs; \
	  echo "notebooks are not clean: run nbdev_clean and commit"; exit 1; fi

nbtest:
	$(BIN)/nbdev_test --n_workers $(N_WORKERS) --timing

nbtest-slow:
	$(BIN)/nbdev_test --n_workers $(N_WORKERS) --timing --flags slow

pytest:
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=8

bench:
	$(PY) bench/tokenize.py
	$(PY) bench/postprocess.py

# The docs site checked without Quarto: notebooks processed by nbdev into _proc/, each page rendered to HTML
# and opened in headless Chromium (Debian: `apt-get install -y chromium`); fails on a page that does not load,
# shows a traceback or lacks its title. Pages, DOMs and screenshots: build/docs-check/.
# While pages listed in nbs/sidebar.yml are still being written: make docs-check DOCS_CHECK_ARGS=--allow-missing
DOCS_CHECK_ARGS ?=
docs-check:
	$(PY) tools/docs_check.py $(DOCS_CHECK_ARGS)

# README.md (and its images in index_files/) from nbs/index.ipynb, as nbdev_readme makes it but without Quarto;
# `make readme README_ARGS=--check` fails when README.md is out of date
README_ARGS ?=
readme:
	$(PY) tools/make_readme.py $(README_ARGS)

# Practice copies of the course notebooks (practice/NN_name.ipynb: code and headings, a few functions to write):
# generated from nbs/, never edited by hand; `make practice PRACTICE_ARGS=--check` fails when they are stale
PRACTICE_ARGS ?=
.PHONY: practice
practice:
	$(PY) tools/make_practice.py $(PRACTICE_ARGS)
