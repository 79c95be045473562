# lstm-edu: build and test the book.
#   make book      environment + offline web assets + _build/html (stored outputs, warnings are errors)
#   make test      the same, then every test: package, stored notebooks, nbval, book, browser
#   make execute   re-run chapters and store outputs: make execute NB="book/02_lstm_cell.ipynb" SIZE=quick DEVICE=cpu
#                  (SIZE=quick|medium|full; CACHE=off retrains every run instead of using the run cache)
#   make handouts  students' copies without solutions and answer keys in _build/handouts/
# TOC=path/to/toc.yml builds and tests another table of contents (default _toc.yml).
# GPU machine with torch but no Jupyter: `make wheels` here, then tools/README.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.lstm-edu-env
WEB_STAMP := web/vendor/.installed
TOC ?= _toc.yml
SIZE ?= quick
DEVICE ?=
NB ?=
CHROMIUM ?= /usr/bin/chromium
export BOOK_TOC := $(TOC)
# Local copies of downloadable corpora (Tiny Shakespeare) for machines without internet: ../shared/data.
export LSTM_EDU_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data))
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

JB_FLAGS := --all -W -n --keep-going $(if $(filter-out _toc.yml,$(TOC)),--toc $(TOC))

.PHONY: help env web book test test-package test-nbval test-browser chromium execute handouts wheels clean

help:
	@sed -n '2,8p' Makefile | sed 's/^# *//'

# --- environment: re-made only when a requirements file changes -------------------------------
$(ENV_STAMP): env/requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r env/requirements-dev.txt
	$(PY) -m pip install -q -e .
	touch $@

env: $(ENV_STAMP)

# --- offline web assets: npm ci from the lockfile, then copy what the book serves ---------------
$(WEB_STAMP): web/package.json web/package-lock.json web/src/widgets-assets-path.js
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf web/vendor && mkdir -p web/vendor/html-manager
	cp -r web/node_modules/mathjax/es5 web/vendor/mathjax
	cp web/node_modules/requirejs/require.js web/src/widgets-assets-path.js web/vendor/
	cp web/node_modules/@jupyter-widgets/html-manager/dist/*.js \
	   web/node_modules/@jupyter-widgets/html-manager/dist/*.woff* web/vendor/html-manager/
	touch $@

web: $(WEB_STAMP)

# --- the book ------------------------------------------------------------------------------------
book: $(ENV_STAMP) $(WEB_STAMP)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	@echo "Open _build/html/index.html in a browser (works offline)."

# --- tests ---------------------------------------------------------------------------------------
test: test-package test-nbval book test-browser

test-package: $(ENV_STAMP)
	$(PY) -m pytest tests -q

test-nbval: $(ENV_STAMP)
	nbs=$$($(PY) tools/booktoc.py --notebooks); \
	test -n "$$nbs" || { echo "no notebooks in $(TOC)"; exit 1; }; \
	LSTM_EDU_SIZE=quick LSTM_EDU_DEVICE=cpu $(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=300 $$nbs

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install -y chromium"; exit 1; fi; }

test-browser: $(ENV_STAMP) chromium
	test -f _build/html/index.html || { echo "no _build/html: run make book first"; exit 1; }
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest tests/browser -q -m browser

# --- execute chapters and store their outputs ------------------------------------------------------
execute: $(ENV_STAMP)
	$(PY) tools/execute.py --size $(SIZE) $(if $(DEVICE),--device $(DEVICE)) $(if $(filter off,$(CACHE)),--no-cache) $(NB)

# --- handouts for a class: every chapter without its solutions, and the answer keys ---------------
handouts: $(ENV_STAMP)
	$(PY) tools/handouts.py --out _build/handouts

# Wheels for running tools/execute.py on a machine with python3 + torch but no Jupyter (tools/README.md).
WHEELS_PYTHON ?= 3.12
WHEELS_PLATFORMS := $(foreach p,manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64,--platform $(p))
wheels: $(ENV_STAMP)
	rm -rf .whl && mkdir -p .whl
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version $(WHEELS_PYTHON) --implementation cp \
	  $(WHEELS_PLATFORMS) -d .whl -r tools/gpu-wheels.txt
	@ls .whl | wc -l | xargs echo "wheels in .whl/:"; du -sh .whl

clean:
	rm -rf _build web/vendor web/node_modules
