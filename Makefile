# The two commands of the README. Each one creates .venv and installs everything on first use
# (tools/install.py explains the order chainer needs), then runs.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# chainer reads numpy.distutils at import, which needs the stdlib distutils.
export SETUPTOOLS_USE_DISTUTILS := stdlib

.PHONY: test test-vision-models test-sequence-models report setup clean

# The suite in parallel (pytest-xdist): one worker per core, at most 4 (each imports the four
# frameworks, about 8 s and 1 GB); --dist loadfile keeps a case file's matrix in one worker, so
# each case runs once. On two cores, 2026-12-04: 104-127 s for 3,369 items (docs/performance.md).
PYTEST_PARALLEL ?= -n auto --maxprocesses 4 --dist loadfile

test: setup
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The opt-in named vision models (torchvision and keras.applications classics imported and run on
# all four backends; minutes each, docs/vision-models.md). Installs torchvision first.
test-vision-models: setup
	$(PY) tools/install.py --vision-models
	$(PY) -m pytest -m vision_models tests/test_vision_models.py -n 0 --durations=0 $(PYTEST_ARGS)

# The opt-in named sequence models (keras.io's text models, torch LSTM/GRU classifiers, seed 004
# from its .keras file, imported and run on all four backends; docs/porting-a-sequence-model.md).
test-sequence-models: setup
	$(PY) -m pytest -m sequence_models tests/test_sequence_models.py -n 0 --durations=0 $(PYTEST_ARGS)

# Every case on the frameworks, on what ships (ONNX Runtime, LiteRT) and on Keras' torch backend
# (docs/shipping.md has the time each backend takes); `make report REPORT_FRAMEWORKS=numpy,keras,
# chainer,torch` for the frameworks alone.
REPORT_FRAMEWORKS ?= numpy,keras,chainer,torch,onnxruntime,litert,keras-torch

report: setup
	$(PY) -m harness run cases/ --frameworks $(REPORT_FRAMEWORKS) --out reports/ $(REPORT_ARGS)

setup:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) tools/install.py

clean:
	rm -rf $(VENV) .pytest_cache
