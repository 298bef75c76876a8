# Two entry points for a fresh machine: `make demo` (main job) and `make test` (the suite).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast clean

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) PY=$(PY) bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/dlbench train mnist1d-cnn --run-dir runs/demo-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)
	VENV=$(VENV) bash scripts/test.sh

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x tests/unit

clean:
	rm -rf $(VENV) build src/*.egg-info
