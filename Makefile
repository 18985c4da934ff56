# make demo: set up .venv and run the main demonstration (plots in out/)
# make test: set up .venv and run the whole test suite, notebooks included
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,ibm]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m qentangle.demo --out out

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --nbmake tests notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/distill.py

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis
