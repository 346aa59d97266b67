# The two commands: `make run` and `make test`. Everything they need is set up here.
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test test-scaled bench bench-load lint format setup dev-setup clean orchestration kubernetes shelf

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

setup: $(VENV)/.installed node_modules/.installed
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py load_lessons
	$(PY) manage.py build_lab_images --if-missing

run: setup
	@echo "배움: http://127.0.0.1:$(PORT)/"
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) --websocket_connect_timeout 30 website.asgi:application

test: $(VENV)/.dev-installed node_modules/.installed
	$(PY) manage.py build_lab_images --if-missing
	$(PY) -m pytest

# The suite again, scaled out (CI's second pass): Redis and PostgreSQL (started by the script),
# and the browser tests through nginx to two web workers and a separate sandbox supervisor. The
# course's content tests (marker `course`) ran in the first pass: they check lessons, not shape.
test-scaled: $(VENV)/.dev-installed node_modules/.installed
	$(PY) manage.py build_lab_images --if-missing
	eval "$$(bash scripts/scale-out-services.sh)" && BAEUM_SCALE_OUT=1 $(PY) -m pytest -m "not course"

bench: $(VENV)/.dev-installed
	$(PY) manage.py build_lab_images --if-missing
	$(PY) -m tools.bench

# A class pressing at once (30, 100, 200; BENCH_LEVELS), cold and warmed, against the raw engine,
# single process and scaled out (README, "Load").
bench-load: $(VENV)/.dev-installed
	$(PY) manage.py build_lab_images --if-missing
	eval "$$(bash scripts/scale-out-services.sh)" && $(PY) -m tools.bench_load

# Swarm mode for the orchestration labs: changes the engine, so only when asked.
orchestration: $(VENV)/.installed
	$(PY) manage.py enable_orchestration

# A single-node Kubernetes from upstream Go modules beside the engine (DESIGN.md, "Kubernetes"):
# built into /var/cache/baeum/kubernetes/<version>/ (once per version), started idempotently,
# Ready before it returns. Changes the machine (root), so only when asked; CI asks.
kubernetes: $(VENV)/.installed
	$(PY) manage.py build_lab_images --if-missing
	bash scripts/kubernetes/cluster.sh start

# The shelf (DESIGN.md, "The Docker CLI"): debian, nginx, redis and python for `docker run` in a
# terminal, built from Debian's packages with mmdebstrap into /var/cache/baeum/shelf/ (once per
# recipe) and imported as baeum/shelf-<name>. Building needs root and Debian's archive; CI asks.
shelf:
	bash scripts/build-shelf.sh

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy lessons sandbox website

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules db.sqlite3
