# The two commands: `make run` (the tracker on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/setup.cfg)
TEST_PLUGINS := tests/plugins/affnet_echo_receiver/setup.cfg
PLUGIN_CATALOGS := plugins/keitaro/affnet_keitaro plugins/fb_capi/affnet_fb_capi plugins/payout_usdt/affnet_payout_usdt plugins/payout_wise/affnet_payout_wise plugins/payout_paypal/affnet_payout_paypal plugins/stripe_ingest/affnet_stripe_ingest
LOG := $(VENV)/install.log

.PHONY: run test lint demo bench bench-reports bench-pages clean install install-test translations

$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "affnet needs Python 3.11 or newer")'
	@echo "making $(VENV) (pip's output goes to $(LOG))"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip setuptools wheel > $(LOG) 2>&1 || (tail -n 20 $(LOG); exit 1)

# The runtime: affnet and the bundled plugins, nothing for tests.
$(VENV)/.runtime: $(BIN)/activate setup.cfg $(PLUGINS)
	@echo "installing affnet and its bundled plugins"
	@$(BIN)/pip install --quiet --no-build-isolation -e . $(foreach p,$(dir $(PLUGINS)),-e $(p)) >> $(LOG) 2>&1 \
		|| (tail -n 20 $(LOG); exit 1)
	@touch $@

# What the tests add: pytest and the reference clients, linters, the test plugin.
$(VENV)/.installed: $(VENV)/.runtime $(TEST_PLUGINS) requirements-test.txt
	@echo "installing the test tools"
	@$(BIN)/pip install --quiet --no-build-isolation -e '.[test]' $(foreach p,$(dir $(TEST_PLUGINS)),-e $(p)) \
		-r requirements-test.txt >> $(LOG) 2>&1 || (tail -n 20 $(LOG); exit 1)
	@touch $@

install: $(VENV)/.runtime

install-test: $(VENV)/.installed

run: install
	@$(BIN)/affnet start

demo: install
	$(BIN)/affnet init
	$(BIN)/affnet demo

test: install-test
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy affnet/plugins/__init__.py affnet/plugins/types.py affnet/plugins/senders.py

bench: install-test
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)) >/dev/null 2>&1 || true
	$(BIN)/python bench/run.py
	$(BIN)/python bench/deliveries.py

bench-reports: install-test
	$(BIN)/python bench/reports.py

# The affiliate's dashboard and stats page with a million clicks of theirs in the last 30 days.
bench-pages: install-test
	$(BIN)/python bench/reports.py --clicks 1300000 --events 60000 --days 30 --share 0.8

# After a page's text changes: the template of every string, the catalogs updated (translate what is new), compiled.
translations: install-test
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output --project affnet \
		-o affnet/translations/messages.pot .
	$(BIN)/pybabel update -i affnet/translations/messages.pot -d affnet/translations --no-fuzzy-matching \
		--ignore-obsolete --width 120
	$(BIN)/pybabel compile -d affnet/translations
	@for package in $(PLUGIN_CATALOGS); do mkdir -p $$package/translations; \
		$(BIN)/pybabel extract --no-location --sort-output --project affnet -o $$package/translations/messages.pot $$package \
		&& ( [ -f $$package/translations/es/LC_MESSAGES/messages.po ] \
			|| $(BIN)/pybabel init -l es -i $$package/translations/messages.pot -d $$package/translations ) \
		&& $(BIN)/pybabel update -i $$package/translations/messages.pot -d $$package/translations --no-fuzzy-matching \
			--ignore-obsolete --width 120 \
		&& $(BIN)/pybabel compile -d $$package/translations || exit 1; \
	done

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info tests/plugins/*/*.egg-info
