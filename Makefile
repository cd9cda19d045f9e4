# Both targets create (or reuse) the virtual environment in .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-all clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0   # CPU build; see README for GPU installs
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create or update the virtual environment only

demo: $(STAMP)  ## real evaluation of the embedded Whisper tiny.en on librispeech-sample (CPU)
	$(VENV)/bin/qa-eval run --task librispeech-sample --model whisper-tiny.en --device cpu

test: $(STAMP)  ## the test suite (CPU; GPU tests are skipped without CUDA)
	$(PY) -m pytest -q

test-all: $(STAMP)  ## also the slow tests (full-size model build: needs ~20 GiB RAM)
	$(PY) -m pytest -q -m "slow or not slow"

clean-venv:
	rm -rf $(VENV)
