# Qualicité — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The PostgreSQL run creates and drops its own test database (test_qualicite).
PG_URL ?= postgres://postgres@127.0.0.1:5432/qualicite
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: demo test install install-test build-deps system-deps runtime-deps apt-deps messages messages-check translations lint test-sqlite test-postgres \
        test-e2e screenshots bench serve clean

## demo: install into .venv, migrate, load the demo towns and serve them.
demo: install messages
	$(BIN)/qualicite migrate --noinput -v0
	$(BIN)/qualicite demo
	$(BIN)/qualicite serve --port $(PORT)

## test: everything CI runs — ruff, pytest on SQLite and PostgreSQL, browser journeys.
test: install-test system-deps messages lint test-sqlite test-postgres test-e2e
	@echo "make test: all parts passed"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py \
		qualicite/reception/parsers/_fastpath.h qualicite/reception/parsers/_fastpath.c \
		qualicite/reception/parsers/_fastpath_lines.c qualicite/reception/parsers/_fastpath_due.c \
		| $(BIN)/python build-deps
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py \
		qualicite/reception/parsers/_fastpath.h qualicite/reception/parsers/_fastpath.c \
		qualicite/reception/parsers/_fastpath_lines.c qualicite/reception/parsers/_fastpath_due.c \
		| $(BIN)/python build-deps
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# A C compiler for the phone-log parser's fast path (ADR 0003; without one it runs in Python).
build-deps:
	@$(MAKE) --no-print-directory apt-deps PACKAGES="gcc"

# Debian packages the build and the tests need: gettext (msgfmt), Chromium, Dovecot (IMAP).
# Installed when we are root (CI, a fresh server); otherwise the tests say what is missing.
system-deps:
	@$(MAKE) --no-print-directory apt-deps PACKAGES="chromium dovecot-imapd $(RUNTIME_PACKAGES)"

# What the application itself needs at run time: msgfmt for the translation, Pango and a font
# for WeasyPrint's PDF letters and reports.
RUNTIME_PACKAGES := gettext libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
runtime-deps:
	@$(MAKE) --no-print-directory apt-deps PACKAGES="$(RUNTIME_PACKAGES)"

# Install the Debian PACKAGES not yet installed (when root; otherwise say what is missing).
apt-deps:
	@missing=""; \
	for package in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "ok installed" || \
	    missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Missing Debian packages:$$missing (apt-get install$$missing)"; fi; \
	fi

## messages: compile the French translation (GNU gettext's msgfmt).
messages: runtime-deps
	@for po in $$(find qualicite -name '*.po'); do msgfmt --check -o "$${po%.po}.mo" "$$po" || exit 1; done

lint: install-test messages-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## translations: add new source strings to the French catalogue (then translate them).
translations: install
	cd qualicite && ../$(BIN)/qualicite makemessages -l fr --no-location --ignore 'migrations/*' -v0

# The French catalogue must hold every source string, each translated, none fuzzy.
# makemessages runs on a copy of the tree so the checked-in catalogue is never touched.
messages-check: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp -r qualicite "$$tmp/" && \
	(cd "$$tmp/qualicite" && PYTHONPATH="$$tmp" $(CURDIR)/$(BIN)/python -m qualicite makemessages \
	  -l fr --no-location --ignore 'migrations/*' -v0) && \
	if ! diff -q -I '^"POT-Creation-Date' qualicite/locale/fr/LC_MESSAGES/django.po \
	      "$$tmp/qualicite/locale/fr/LC_MESSAGES/django.po" >/dev/null; then \
	  echo "The French catalogue is out of date: run 'make translations' and translate."; exit 1; fi
	@stats=$$(msgfmt --check --statistics -o /dev/null qualicite/locale/fr/LC_MESSAGES/django.po 2>&1); \
	echo "French catalogue: $$stats"; \
	case "$$stats" in *untranslated*|*fuzzy*) echo "Translate every string (no fuzzy)."; exit 1;; esac

test-sqlite: install-test messages
	$(PYTEST) tests --ignore=tests/e2e -q

test-postgres: install-test messages
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)'.rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" 2>/dev/null; then \
	  DATABASE_URL=$(PG_URL) $(PYTEST) tests --ignore=tests/e2e -q; \
	elif [ "$$CI" = "true" ]; then \
	  echo "PostgreSQL is not reachable at $(PG_URL): under CI this is a failure."; exit 1; \
	else \
	  echo "SKIPPED: PostgreSQL is not reachable at $(PG_URL) (start it, or set PG_URL)."; \
	fi

test-e2e: install-test system-deps messages
	$(PYTEST) tests/e2e -q

## screenshots: run the browser journeys and keep their screenshots for docs/guide/captures/.
screenshots: install-test messages
	QUALICITE_SCREENSHOTS=1 $(PYTEST) tests/e2e -q

## bench: speed and memory figures for docs/performance.md (never run by `make test`).
bench: install
	$(BIN)/python bench/calendar_due_dates.py 1000000
	$(BIN)/python bench/complaints_report.py 20000
	$(BIN)/python bench/requests_scale.py --requests 1000000 --runs 200
	$(BIN)/python bench/indicators_scale.py --events 10000000 --small 100000 --runs 100

serve: install messages
	$(BIN)/qualicite migrate --noinput -v0
	$(BIN)/qualicite serve --port $(PORT)

clean:
	rm -rf $(VENV) var .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
