# make demo: set up .venv and run the main demonstration (plots in out/)
# make test: set up .venv and run the whole test suite: layers, docstring examples, tests, notebooks
# make fuzz: longer fuzzing and soak runs; make bench: the benchmarks
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: install demo test lint layers doctest fuzz bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,ibm]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m qentangle.demo --out out

test: $(STAMP) layers
	$(PY) -m pytest -n $(JOBS) --doctest-modules qentangle tests
	$(PY) -m pytest -n $(JOBS) --nbmake notebooks

layers: $(STAMP)
	$(VENV)/bin/lint-imports

doctest: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --doctest-modules qentangle

lint: $(STAMP) layers
	$(VENV)/bin/ruff check .

fuzz: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m fuzz --run-fuzz tests

bench: $(STAMP)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/distill.py

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis
