# Everything a fresh machine needs is installed by these targets (no manual step).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Airflow `make test` runs on, installed with its minor's tested dependency set (constraints/).
AIRFLOW_VERSION ?= 3.3.2
CONSTRAINTS ?= constraints/airflow-3.3.txt
# The Flask (Airflow 2) UI that `make test-ui` also drives.
AIRFLOW2_UI_VERSION ?= 2.11.0

.PHONY: venv test lint demo bench clean test-ui dist postgres-server test-matrix constraints

venv: $(STAMP)

# Installed with uv (scripts/matrix.py): minutes faster than pip for Airflow's ~150 packages.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) scripts/matrix.py venv $(AIRFLOW_VERSION) --path $(VENV)
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint postgres-server
	$(BIN)/pytest -q

# Debian's PostgreSQL server, for the integration test of example_dags/ozonetel_cdr_to_postgres.py
# (it starts its own cluster in a temporary directory). Installed when missing; where it cannot be
# (not root, no package mirror), that test is skipped and says why. The package's own "main"
# cluster, which Debian starts on install, is stopped again: nothing is left running.
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "postgres-server: installing Debian's postgresql (about a minute)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 \
	    && { pg_lsclusters -h 2>/dev/null | awk '$$4 == "online" {print $$1, $$2}' \
	         | xargs -r -n2 pg_ctlcluster --mode fast stop || true; } \
	    || echo "postgres-server: could not install Debian's postgresql; its integration test will be skipped"; }

# The Airflow-dependent tests on the oldest patch of every supported minor and the newest 3.3,
# each in a cached virtualenv (.venv-matrix/) installed with its constraints file; checks that
# the example DAGs write the same bytes everywhere and rewrites the README's tested-versions table.
test-matrix:
	$(PYTHON) scripts/matrix.py run

# Regenerate constraints/airflow-X.Y.txt from fresh installs (all minors, or MINORS="3.0 3.1";
# AIRFLOW=3.2.2 with one minor: from that patch instead of the one the matrix tests).
constraints:
	$(PYTHON) scripts/matrix.py constraints $(MINORS) $(if $(AIRFLOW),--airflow $(AIRFLOW))

# The example daily DAG against the local emulator, in an embedded Airflow home (.demo/).
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Benchmarks against the emulator (not part of make test); writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run_all.py

# The connection form and Test button in a real Airflow UI, in headless Chromium (installs
# Debian's chromium and Playwright for Python when missing): Airflow 3.3's React UI, then
# Airflow 2.11's Flask UI (in its matrix virtualenv).
test-ui: $(STAMP)
	VENV=$(VENV) CONSTRAINTS=$(CONSTRAINTS) scripts/ui_test_setup.sh
	VENV=$$($(PYTHON) scripts/matrix.py venv $(AIRFLOW2_UI_VERSION)) \
	    CONSTRAINTS=constraints/airflow-$(basename $(AIRFLOW2_UI_VERSION)).txt scripts/ui_test_setup.sh

# The sdist and the wheel in dist/, checked: LICENSE and NOTICE in both, the metadata users see.
dist: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,dist]'
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python scripts/check_dist.py dist

clean:
	rm -rf $(VENV) .venv-matrix .airflow .airflow-test .demo .pytest_cache .ruff_cache *.egg-info dist build
