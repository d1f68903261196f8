# Huike: `make demo` to try it, `make test` to run every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt examples/*/pyproject.toml | cksum | cut -d' ' -f1)
#: Example third-party plugins, installed through their entry points like any other.
EXAMPLES := $(wildcard examples/*/pyproject.toml)

.PHONY: install demo serve migrate test lint format bench bench-crm lock clean

$(STAMP): pyproject.toml constraints.txt $(EXAMPLES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps $(addprefix -e ,$(dir $(EXAMPLES)))
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install          ## migrate ./var/huike.db, seed the demo tenant, print a login, serve :8000
	$(BIN)/huike demo

serve: install
	$(BIN)/huike serve

migrate: install
	$(BIN)/huike migrate

test: install          ## the whole suite (SQLite; PostgreSQL when HUIKE_TEST_DATABASE_URL is set)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install         ## benchmarks: figures as ratios to a baseline measured in the same run
	$(BIN)/python -m tests.benchmarks

bench-crm: install     ## 100 tenants, one with 1,000,000 customers; import throughput (PostgreSQL: set HUIKE_BENCH_*_URL)
	$(BIN)/python -m tests.benchmarks.crm
	$(BIN)/python -m tests.benchmarks.imports

bench-delivery: install ## event-to-webhook latency (PostgreSQL + Redis: set HUIKE_BENCH_*_URL, HUIKE_BENCH_REDIS_URL)
	$(BIN)/python -m tests.benchmarks.delivery

lock: install          ## refresh constraints.txt from the current environment
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^huike' > constraints.txt

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
