# The two commands of the README:
#   make demo   set up (first time) and run the main job: a crawl of a local news world
#   make test   set up (first time) and run the test suite
#   make test-all   before each release: also the -m slow kill -9 loops
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.storywatch-installed
TRAIN_STAMP := $(VENV)/.storywatch-train

.PHONY: demo test test-all lint bench setup clean

# pip >= 23.3 is needed (23.2, which Python 3.11 ships, crashes on the lxml extras): the
# upgrade may fail offline, and then check_pip.py stops with the reason and the fix.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	-$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python scripts/check_pip.py
	$(BIN)/python -m pip install --quiet -e '.[postgres,cluster,test]'
	touch $(STAMP)

# The `train` extra (scikit-learn) retrains the decision: benchmarks/train_decision.py.
$(TRAIN_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[postgres,cluster,test,train]'
	touch $(TRAIN_STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/storywatch demo

test: $(STAMP)
	VENV=$(VENV) bash scripts/test.sh

# Run before each release: the whole suite and the -m slow kill -9 loops (25 crawls killed
# at random on SQLite and on PostgreSQL, ~20 min), with the train extra installed.
test-all: $(TRAIN_STAMP)
	VENV=$(VENV) bash scripts/test.sh -m "slow or not slow"

lint: $(STAMP)
	$(BIN)/ruff check storywatch tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/crawl_throughput.py

clean:
	rm -rf $(VENV) storywatch-demo test-artifacts .pytest_cache
