# lstm-edu: build and test the book. `make help` lists the targets: every target with a `## text`
# comment on its line, and every `## NAME=...` line, is shown there.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.lstm-edu-env
WEB_STAMP := web/vendor/.installed
## TOC=path/to/toc.yml   build and test another table of contents (default _toc.yml)
TOC ?= _toc.yml
## NB="book/NN_x.ipynb"  the chapters `make execute` runs (default: every chapter)
NB ?=
## SIZE=quick|medium|full  the size `make execute` runs them at (default quick)
## CACHE=off             `make execute` retrains every run instead of loading the run cache
SIZE ?= quick
## DEVICE=cpu|cuda       the device `make execute` uses (default: the chapter's own choice)
DEVICE ?=
## CHROMIUM=path         the Chromium the browser tests use (default /usr/bin/chromium)
CHROMIUM ?= /usr/bin/chromium
export BOOK_TOC := $(TOC)
# A local copy of the downloadable corpora (no internet in CI): ../shared/data beside the clone,
# or this workplace's /work/shared/data when the clone lives elsewhere.
export LSTM_EDU_DATA ?= $(abspath $(firstword $(wildcard ../shared/data /work/shared/data)))
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

JB_FLAGS := --all -W -n --keep-going $(if $(filter-out _toc.yml,$(TOC)),--toc $(TOC))

.PHONY: help env web book lint test test-package test-nbval test-browser chromium execute handouts gpu-check wheels clean

help: ## this list
	@echo "lstm-edu: build and test the book. Targets (make TARGET):"
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Settings (make TARGET NAME=value):"
	@sed -n 's/^## /  /p' $(MAKEFILE_LIST)

# --- environment: re-made only when a requirements file changes -------------------------------
$(ENV_STAMP): env/requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r env/requirements-dev.txt
	$(PY) -m pip install -q -e .
	touch $@

env: $(ENV_STAMP) ## .venv: the pinned environment (env/requirements-dev.txt), this package editable

# --- offline web assets: npm ci from the lockfile, then copy what the book serves ---------------
$(WEB_STAMP): web/package.json web/package-lock.json web/src/widgets-assets-path.js
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf web/vendor && mkdir -p web/vendor/html-manager
	cp -r web/node_modules/mathjax/es5 web/vendor/mathjax
	cp web/node_modules/requirejs/require.js web/src/widgets-assets-path.js web/vendor/
	cp web/node_modules/@jupyter-widgets/html-manager/dist/*.js \
	   web/node_modules/@jupyter-widgets/html-manager/dist/*.woff* web/vendor/html-manager/
	touch $@

web: $(WEB_STAMP) ## the offline web assets (MathJax, widgets) from web/package-lock.json

# --- the book ------------------------------------------------------------------------------------
book: $(ENV_STAMP) $(WEB_STAMP) ## _build/html from the stored outputs (a warning is an error)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	@echo "Open _build/html/index.html in a browser (works offline)."

# --- tests ---------------------------------------------------------------------------------------
test: lint test-package test-nbval test-browser ## all of it: lint, package tests, nbval, the book, browser

lint: $(ENV_STAMP) ## ruff: lint and import order (settings in pyproject.toml; notebooks excluded)
	$(VENV)/bin/ruff check .

test-package: $(ENV_STAMP) ## the package's tests and the stored-notebook checks (tests/)
	$(PY) -m pytest tests -q

test-nbval: $(ENV_STAMP) ## every chapter re-run at quick size on the CPU, checked outputs compared
	nbs=$$($(PY) tools/booktoc.py --notebooks); \
	test -n "$$nbs" || { echo "no notebooks in $(TOC)"; exit 1; }; \
	LSTM_EDU_SIZE=quick LSTM_EDU_DEVICE=cpu $(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=300 $$nbs

chromium: ## check that Chromium is there for the browser tests (it says how to install it)
	@test -x $(CHROMIUM) || { \
	  echo "Chromium is missing ($(CHROMIUM)): the browser tests open the built book in it."; \
	  echo "Install it with: sudo apt-get install -y chromium   (Debian, Ubuntu; CI: .ci/run does it)"; \
	  echo "or name another one: make test-browser CHROMIUM=/path/to/chromium"; exit 1; }

test-browser: $(ENV_STAMP) chromium book ## every page of the built book opened offline in Chromium
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest tests/browser -q -m browser

# --- execute chapters and store their outputs ------------------------------------------------------
execute: $(ENV_STAMP) ## re-run chapters in a fresh kernel, store outputs: NB=... SIZE=... DEVICE=... CACHE=off
	$(PY) tools/execute.py --size $(SIZE) $(if $(DEVICE),--device $(DEVICE)) $(if $(filter off,$(CACHE)),--no-cache) $(NB)

# --- handouts for a class: every chapter without its solutions, and the answer keys ---------------
handouts: $(ENV_STAMP) ## students' copies without solutions, and answer keys, in _build/handouts/
	$(PY) tools/handouts.py --out _build/handouts

# The GPU check (tools/gpu_check.py): plain python3, no environment to build (the GPU machine has
# no network). `make test` runs its tiny CPU mode through tests/test_gpu_check.py.
## GPU_CHECK_OUT=gpu-check  the folder of the GPU check's report
GPU_CHECK_OUT ?= gpu-check
gpu-check: ## on a GPU machine (python3 + torch, no .venv): tests on CUDA, benchmark rows, one report
	$(PYTHON) tools/gpu_check.py --out $(GPU_CHECK_OUT)

# Wheels for running tools/execute.py on a machine with python3 + torch but no Jupyter (tools/README.md).
WHEELS_PYTHON ?= 3.12
WHEELS_PLATFORMS := $(foreach p,manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64,--platform $(p))
wheels: $(ENV_STAMP) ## wheels to execute on a GPU machine without Jupyter (tools/README.md)
	rm -rf .whl && mkdir -p .whl
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version $(WHEELS_PYTHON) --implementation cp \
	  $(WHEELS_PLATFORMS) -d .whl -r tools/gpu-wheels.txt
	@ls .whl | wc -l | xargs echo "wheels in .whl/:"; du -sh .whl

clean: ## remove _build and the web assets
	rm -rf _build web/vendor web/node_modules
