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

# The long runs `make test` leaves out: the CLI fuzz campaign, 20 SIGKILL points of the station
# network, 100 KME clients for 30 s, the KME nodes of a real network.
fuzz: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m fuzz --run-fuzz tests

# Every figure in README.md and docs/benchmarks.md comes from one of these (ratios in the same run).
bench: $(STAMP)
	$(PY) benchmarks/throughput.py --end-to-end --e2e-reps 2
	$(PY) benchmarks/distill.py --reps 3
	$(PY) benchmarks/timetags.py --duration 60 --stream-seconds 240
	$(PY) benchmarks/network.py --reps 3
	$(PY) benchmarks/kme.py
	$(PY) benchmarks/plan.py
	$(PY) benchmarks/plan.py --days 365 --reps 1 --workers 1,2

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis
