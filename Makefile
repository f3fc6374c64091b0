# The README's two commands are `make run` and `make test`; the rest are helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
WEB_PORT ?= 8000
# Test processes per pass (pytest-xdist). `--dist load` hands tests out in collection order,
# which pytest-django sorts so that the tests that flush the database (transactional) come
# last: by file, they would flush the groups the migrations made under later files' tests.
# TEST_WORKERS=1: no xdist.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist load)
SITE_URL ?= http://127.0.0.1:$(WEB_PORT)
export WEB_PORT SITE_URL

.PHONY: install run test test-sqlite test-postgres lint bench bench-smoke clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Jalon needs Python 3.11 or newer" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The set-up steps, then config/supervisor.py runs the Procfile's web, worker and beat: it says
# where to go once they answer, and stops them cleanly on Ctrl-C (make then exits 0).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py catalogue_load
	$(BIN)/python manage.py workspace_sync
	$(BIN)/python manage.py admin_ensure
	@$(BIN)/python -m config.supervisor --procfile Procfile --url http://127.0.0.1:$(WEB_PORT)/

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-sqlite: install
	$(BIN)/pytest $(XDIST)

# Skips with a reason when PostgreSQL is not reachable, except under CI=true where it fails.
test-postgres: install
	JALON_TEST_DB=postgres $(BIN)/pytest $(XDIST) -m "not browser" -p no:cacheprovider

# Every benchmark at its smoke size, so that a broken one fails the build (figures: make bench).
bench-smoke: install
	$(BIN)/python bench/run_all.py --smoke

test: lint test-sqlite test-postgres bench-smoke

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
