# Both targets create (or reuse) the virtual environment in .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-all clean-venv gpu-check gpu-wheels

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

gpu-check:  ## every GPU check in one run, logs + JSON in ./gpu-check (on the GPU machine; see scripts/gpu_check.sh)
	bash scripts/gpu_check.sh

gpu-wheels:  ## the wheels the GPU machine lacks (it has no package index), into .whl/ for the device tool's carry
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  -d .whl soundfile soxr rapidfuzz cffi pycparser whisper-normalizer zhconv
