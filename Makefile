# NeuronQuest — one command to play (`make run`), one to test (`make test`).
# Every target sets up .venv first; the second time that is a no-op.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
# Where it is installed from: the local CPU wheel when there is one, else the CPU index,
# so that no CUDA packages are ever pulled on a machine without a GPU.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup run test test-long test-sqlite test-postgres lint bench faults clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first: otherwise a dependency's open range would fetch the CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH) \
	  || $(PIP) install -q $(TORCH) --index-url $(TORCH_INDEX)
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

# `make run PORT=8080` (or HOST=0.0.0.0) chooses where it listens; the default is Settings.port.
run: setup
	$(VENV)/bin/neuronquest up $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# The whole suite on SQLite; NQ_TEST_DATABASE_URL (set by .ci/run) adds PostgreSQL.
test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The long end-to-end and load tests (marked `long`) the default run leaves out; CI runs them.
test-long: setup
	$(PY) -m pytest -q -m long $(PYTEST_ARGS)

test-postgres: setup
	NQ_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test $(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) -m pytest -q -s tests/bench -p no:cacheprovider -o addopts=""

# Faults, abuse and fuzzing (docs/RELIABILITY.md); the fuzzing at its larger size, and the slow
# fault variants (marked faults_slow) that the default run deselects.
faults: setup
	$(PY) -m pytest -q -m "" tests/faults tests/server/test_abuse.py tests/server/test_resilience.py tests/fuzz \
	  --hypothesis-profile=thorough $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
