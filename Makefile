# Two commands do all the set-up on a fresh machine (only Python 3.11+ needed):
#   make run    site + Celery worker + beat + its own Redis, SQLite, demo data
#   make test   lint, the docs (make docs), then the whole suite against PostgreSQL and Redis (started if not running)
# For daily work: make test-fast (lint + the suite without browser, worker and slow tests).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# One pytest process per core (at most 4), a test file's tests together in one process (they
# share module fixtures); each process has its own test database, broker prefix and media folder
# (vetting/settings/test.py). XDIST= runs the suite in one process.
XDIST  ?= -n auto --maxprocesses 4 --dist loadfile
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: run test test-fast lint docs bench venv migrate check-docker clean

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) manage.py rundemo

lint: $(STAMP)
	$(PY) -m ruff check .

# The documentation site (mkdocs.yml, docs/): warnings are errors; output in var/site/.
docs: $(STAMP)
	$(PY) -m mkdocs build --strict --quiet

test: lint docs
	bash .ci/ensure-services
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: lint
	VETTING_NO_BROWSER=1 bash .ci/ensure-services
	$(PY) -m pytest -m "not browser and not worker and not slow" $(XDIST) $(PYTEST_ARGS)

bench: $(STAMP)
	bash .ci/ensure-services
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script $(BENCH_ARGS) || exit 1; done

# Validates the compose file without an engine (docker compose v2 or the Python docker-compose).
check-docker:
	DJANGO_SECRET_KEY=check-only sh -c 'if docker compose version >/dev/null 2>&1; then docker compose -f docker/compose.yaml config -q; else docker-compose -f docker/compose.yaml config -q; fi' && echo "docker/compose.yaml is valid"

clean:
	rm -rf var/ .pytest_cache bench-out/
