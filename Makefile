# Set-up and everyday commands. Override TORCH to pick another torch build,
# e.g. `make test TORCH="torch==2.5.1"`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-min lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install "$(TORCH)"
	$(BIN)/python -m pip install -e ".[test,plots]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/skprune compare --dataset digits --output-dir results/digits

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

# The suite on the minimum versions pyproject.toml declares (torch: $(TORCH)),
# in a separate venv; skprune itself is imported from the source tree.
VENV_MIN ?= .venv-min
test-min:
	rm -rf $(VENV_MIN)
	$(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --upgrade pip
	$(VENV_MIN)/bin/python -m pip install "$(TORCH)"
	$(VENV_MIN)/bin/python tools/min_requirements.py > $(VENV_MIN)/requirements-min.txt
	$(VENV_MIN)/bin/python -m pip install --only-binary=:all: -r $(VENV_MIN)/requirements-min.txt
	PYTHONPATH=$(CURDIR) $(VENV_MIN)/bin/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) $(VENV_MIN) results
