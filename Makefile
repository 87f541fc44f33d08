# call-triage: `make demo` runs the nightly job on the bundled example archive,
# `make test` runs the test suite. Both set up everything on a fresh machine, installing the
# exact versions pinned in requirements.lock.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
UV_VERSION := 0.13.9
DEMO_OUT ?= out/demo

.PHONY: setup test test-latest demo bench lock clean

setup: $(STAMP)

$(STAMP): setup.py $(LOCK) scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(VENV)/bin/call-triage run --archive examples/archive --out $(DEMO_OUT)

bench: $(STAMP)
	$(PY) benchmarks/bench_features.py
	$(PY) benchmarks/bench_pipeline.py

# Regenerates the lock from setup.py's ranges: the newest versions they allow today, for the
# supported Python on Linux x86-64 (Dataflow's workers), with every file's hash.
lock:
	test -x .venv-lock/bin/uv || ($(PYTHON) -m venv .venv-lock \
		&& .venv-lock/bin/pip install -q "uv==$(UV_VERSION)")
	.venv-lock/bin/uv pip compile setup.py --extra test --extra tensorboard \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes --no-header --quiet -o $(LOCK)

# The suite against the newest versions setup.py's ranges allow (not the lock), in a
# separate venv: catches the next upstream release before users do.
test-latest:
	bash scripts/install-system-deps.sh
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install -q --upgrade --upgrade-strategy eager -e ".[test,tensorboard]"
	.venv-latest/bin/pip list --format=freeze | grep -iE '^(apache-beam|tensorflow|keras)=='
	.venv-latest/bin/python -m pytest -q tests

clean:
	rm -rf $(VENV) .venv-latest .venv-lock out build *.egg-info
