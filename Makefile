# docrec: `make test` and `make demo` build .venv from nothing, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.docrec-installed

.PHONY: test demo bench clean

$(STAMP): pyproject.toml setup.py gtn/_kernels.c gtn/_compose.c gtn/_kernels.h
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned, so that no other (CUDA) build is ever pulled in
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/docrec demo

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
	rm -f gtn/_kernels*.so gtn/_kernels*.pyd
