# The two commands of the README. Each one creates .venv and installs everything on first use
# (tools/install.py explains the order chainer needs), then runs.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# chainer reads numpy.distutils at import, which needs the stdlib distutils.
export SETUPTOOLS_USE_DISTUTILS := stdlib

.PHONY: test report setup clean

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

report: setup
	$(PY) -m harness run cases/ --out reports/run/

setup:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) tools/install.py

clean:
	rm -rf $(VENV) .pytest_cache
