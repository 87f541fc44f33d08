# call-triage: `make demo` runs the nightly job on the bundled example archive,
# `make test` runs the test suite. Both set up everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= out/demo

.PHONY: setup test demo bench clean

setup: $(STAMP)

$(STAMP): setup.py scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(VENV)/bin/call-triage run --archive examples/archive --out $(DEMO_OUT)

bench: $(STAMP)
	$(PY) benchmarks/bench_features.py
	$(PY) benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) out build *.egg-info
