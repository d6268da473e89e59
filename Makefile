# The two commands: `make run` (the tracker on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/setup.cfg) tests/plugins/affnet_echo_receiver/setup.cfg

.PHONY: run test lint demo bench bench-reports clean install translations

$(BIN)/activate:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "affnet needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/activate setup.cfg $(PLUGINS) requirements-test.txt
	$(BIN)/pip install --quiet --no-build-isolation -e '.[test]' $(foreach p,$(dir $(PLUGINS)),-e $(p)) -r requirements-test.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/affnet init
	$(BIN)/affnet serve

demo: install
	$(BIN)/affnet init
	$(BIN)/affnet demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy affnet/plugins/__init__.py affnet/plugins/types.py affnet/plugins/senders.py

bench: install
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)) >/dev/null 2>&1 || true
	$(BIN)/python bench/run.py
	$(BIN)/python bench/deliveries.py

bench-reports: install
	$(BIN)/python bench/reports.py

# After a page's text changes: the template of every string, the catalogs updated (translate what is new), compiled.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output --project affnet \
		-o affnet/translations/messages.pot .
	$(BIN)/pybabel update -i affnet/translations/messages.pot -d affnet/translations --no-fuzzy-matching \
		--no-location --width 120
	$(BIN)/pybabel compile -d affnet/translations

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info tests/plugins/*/*.egg-info
