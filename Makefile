# Two commands on a fresh machine: `make train` (set up, train on the embedded digits data)
# and `make test` (set up, run every test: what CI runs). `make test-fast` runs the unit
# tests only (not the `slow` ones, which start train.py, a tool, torchrun or a cluster). torch==2.13.0 is installed before the package:
# an unpinned torch would pull a multi-GB CUDA build.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.optkit-installed

.PHONY: setup train test test-fast
setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# hydra-optuna-sweeper (optkit < issue 18) registers the same sampler options as optkit's sweeper
	$(PY) -m pip uninstall -q -y hydra-optuna-sweeper
	touch $(STAMP)

train: $(STAMP)
	$(PY) train.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

# one pytest-xdist worker per CPU, one torch thread each (two threads each would oversubscribe the cores)
test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow" -n auto $(ARGS)
