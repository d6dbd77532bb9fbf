# The two commands a newcomer needs:  `make demo`  and  `make test`.
# Everything runs from a project-local virtualenv (.venv) that the first call creates.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint sim bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

## demo: mirror a simulated cluster (with churn) into SQLite, serve the API on 127.0.0.1:8080
demo: $(STAMP)
	$(BIN)/informer-mirror demo

## sim: run only the simulated Kubernetes API server on 127.0.0.1:8001
sim: $(STAMP)
	$(BIN)/informer-mirror sim --port 8001 --kubeconfig sim.kubeconfig --objects 500 --churn 5

## test: the whole test suite (what CI runs, after lint)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## lint: ruff and mypy --strict
lint: $(STAMP)
	$(BIN)/ruff check informer_mirror tests bench
	$(BIN)/ruff format --check informer_mirror tests bench
	$(BIN)/mypy --strict informer_mirror

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
