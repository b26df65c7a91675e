# The two commands of the README: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8888
DEMO_SCALE ?= 1.0
# jlpm and jupyter (used by the frontend build) come from the venv.
export PATH := $(BIN):$(PATH)

LAB_SOURCES := $(shell find labextension/src labextension/style -type f 2>/dev/null) \
	labextension/package.json labextension/yarn.lock labextension/tsconfig.json
LAB_BUILD := analytics_ext/labextension/package.json
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-frontend lint format install frontend screenshots clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Build tools first, so the editable install can build without an isolated env (no re-download
# of JupyterLab per install), then the package with its test extras.
$(INSTALLED): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet hatchling hatch-jupyter-builder editables "jupyterlab>=4.6,<5"
	$(BIN)/pip install --quiet --no-build-isolation -e ".[test]"
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

$(LAB_BUILD): $(LAB_SOURCES) | $(INSTALLED)
	cd labextension && jlpm install && jlpm build
	touch $@

install: $(INSTALLED) $(LAB_BUILD)

frontend: $(LAB_BUILD)

lint: install
	$(BIN)/ruff check analytics_ext tests bench
	$(BIN)/ruff format --check analytics_ext tests bench
	cd labextension && jlpm lint:check

# Jest: the TypeScript logic of the panels (labextension/test/*.spec.ts), in jsdom.
test-frontend: install
	cd labextension && jlpm jest --ci

format: install
	$(BIN)/ruff format analytics_ext tests bench
	$(BIN)/ruff check --fix analytics_ext tests bench
	cd labextension && jlpm lint

# Test files run on TEST_WORKERS processes (pytest-xdist, one file per worker at a time, so module
# fixtures stay in one process). Schemathesis runs alone afterwards: its generated cases share one
# test id, which xdist's scheduler cannot tell apart.
TEST_WORKERS ?= 2
test: install lint test-frontend
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 --ignore=tests/test_schemathesis.py
	$(BIN)/python -m pytest tests/test_schemathesis.py

# The README's pictures of the panels: the walk through them on demo data (Playwright, Debian
# Chromium) writes tests/ui/screenshots/panel-*.png; they are copied into docs/images/.
screenshots: install
	$(BIN)/python -m pytest tests/ui/test_lab_walk.py -q
	cp tests/ui/screenshots/panel-{datasources,queries,charts,dashboards,account}.png docs/images/

demo: install
	$(BIN)/jupyter analytics demo-data --scale $(DEMO_SCALE)
	@flags="--ip=127.0.0.1 --port=$(PORT)"; \
	if [ "$$(id -u)" = 0 ]; then flags="$$flags --allow-root"; fi; \
	if [ "$$(uname)" = Linux ] && [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then flags="$$flags --no-browser"; fi; \
	echo ""; \
	echo "  analytics_ext demo: open http://127.0.0.1:$(PORT)/lab$${JUPYTER_TOKEN:+?token=$$JUPYTER_TOKEN}"; \
	echo "  (without JUPYTER_TOKEN set, Jupyter prints a URL with its generated token below)"; \
	echo "  published dashboards open at http://127.0.0.1:$(PORT)/analytics/dashboards/<id>"; \
	echo "  (notebooks/05_dashboards.ipynb builds and publishes one on the demo data)"; \
	echo ""; \
	exec $(BIN)/jupyter lab $$flags

clean:
	rm -rf $(VENV) analytics_ext/labextension labextension/lib labextension/node_modules \
		labextension/tsconfig.tsbuildinfo build dist
