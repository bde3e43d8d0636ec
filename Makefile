# omero-irods: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed here, into virtual environments in this folder.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The machine's default Python 3 runs the client and the tests; the server side must
# also run on Python 3.9 (EL9's iRODS embeds it); omero-py needs zeroc-ice 3.6.5,
# which builds only on Python <= 3.10.
PYTHON   ?= python3
PYTHON39 ?= $(shell tools/find-python 3.9)
PYTHON310?= $(shell tools/find-python 3.10)

VENV       := .venv
VENV39     := .venv39
VENV_OMERO := .venv-omero
PYTEST_ARGS ?=

.PHONY: help demo test test-default test-py39 test-omero test-install test-irods test-irods-long bench lint clean

help:
	@echo "make demo    run the bundled scenario in the embedded iRODS sandbox and print what happened"
	@echo "make test    run every test: default Python, Python 3.9 (server side), omero-py (Python 3.10), packaging, the real iRODS tier"
	@echo "make test-irods       the real-server tier alone: a throw-away iRODS 5.0.2 zone from ../shared/irods (or IRODS_KIT=DIR)"
	@echo "make test-irods-long  the tier plus its long and large runs"
	@echo "make bench   run the benchmarks in bench/ (ratios against baselines measured in the same run)"
	@echo "make clean   remove the virtual environments and build output"

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[client,test]'
	touch $@

$(VENV39)/.installed: setup.cfg pyproject.toml
	@test -n "$(PYTHON39)" || { echo "make: Python 3.9 not found (install it, or set PYTHON39=/path/to/python3.9)"; exit 1; }
	$(PYTHON39) -m venv $(VENV39)
	$(VENV39)/bin/pip install -q --upgrade pip
	$(VENV39)/bin/pip install -q -e '.[client,test]'
	touch $@

# zeroc-ice 3.6.5 compiles from source the first time: about 15-17 minutes on a busy 2-core
# machine (5 on an idle fast one); pip caches the wheel, so later venvs take seconds.
# omero-irods is installed in editable "strict" mode: a tree of links to the sources on sys.path,
# which holds omero/plugins/irods.py where omero-py's CLI.loadplugins looks for plugins (the
# default editable mode maps packages through an import hook that loadplugins cannot see).
# A new source file needs a new link: .linked re-runs that install when a source file changes.
OMERO_IRODS_SOURCES := $(shell find policy omero_plugins test_harness/sandbox -name '*.py' -o -name '*.json' 2>/dev/null)

$(VENV_OMERO)/.installed: setup.cfg pyproject.toml
	@test -n "$(PYTHON310)" || { echo "make: Python 3.10 not found (omero-py's zeroc-ice 3.6.5 needs Python <= 3.10; set PYTHON310=...)"; exit 1; }
	$(PYTHON310) -m venv $(VENV_OMERO)
	$(VENV_OMERO)/bin/pip install -q --upgrade pip wheel
	@echo "make: zeroc-ice 3.6.5 for omero-py: from pip's cache if built before, else compiled (15-17 minutes on a busy 2-core machine)"
	tools/show-progress "zeroc-ice" $(VENV_OMERO)/bin/pip install -v 'zeroc-ice==3.6.5'
	$(VENV_OMERO)/bin/pip install -q -e '.[omero,test]' --config-settings editable_mode=strict
	# optional at run time; installed here so Save's transfer.xml packet is tested for real
	$(VENV_OMERO)/bin/pip install -q omero-cli-transfer
	touch $@

$(VENV_OMERO)/.linked: $(VENV_OMERO)/.installed $(OMERO_IRODS_SOURCES)
	$(VENV_OMERO)/bin/pip install -q --no-deps -e . --config-settings editable_mode=strict
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/omero-irods sandbox demo

test: test-install test-default test-py39 test-omero test-irods

test-default: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -m 'not omero' $(PYTEST_ARGS)

# Python 3.9 proves the server side on the oldest Python a server embeds: every test once, the
# pipeline and guard suites on the 5.0 variant only (the default run covers 4.3 and 4 executors).
test-py39: $(VENV39)/.installed
	OMERO_IRODS_VARIANTS=5.0 $(VENV39)/bin/python -m pytest -q -m 'not omero' $(PYTEST_ARGS)

test-omero: $(VENV_OMERO)/.linked
	$(VENV_OMERO)/bin/python -m pytest -q -m omero $(PYTEST_ARGS)

# The real-server tier (test_harness/tests/irods): zones from the iRODS kit, as root, in a folder
# under /var/tmp. The tests stop every zone they start; the trap stops them too if pytest dies,
# then removes the folder (OMERO_IRODS_KEEP_ZONE=1 keeps both). Without the kit the tests skip.
IRODS_KIT ?= $(abspath ../shared/irods)
# The kit's own install-deps.sh brings the Debian packages its server needs (about 1 s when present).
irods_tier = if [ -f "$(IRODS_KIT)/install-deps.sh" ] && [ "$$(id -u)" = 0 ]; then \
	      bash "$(IRODS_KIT)/install-deps.sh" | tail -n 1; fi && \
	dir=$$(mktemp -d /var/tmp/omero-irods-tier.XXXXXX) && chmod 755 "$$dir" && \
	trap 'for zone in "$$dir"/*/; do [ -f "$$zone/irods.port" ] && [ -f "$(IRODS_KIT)/stop-zone.sh" ] && \
	      [ "$$OMERO_IRODS_KEEP_ZONE" != 1 ] && bash "$(IRODS_KIT)/stop-zone.sh" "$$zone" >/dev/null 2>&1; done; \
	      [ "$$OMERO_IRODS_KEEP_ZONE" = 1 ] || rm -rf "$$dir"' EXIT && \
	OMERO_IRODS_TIER=$(1) IRODS_KIT="$(IRODS_KIT)" OMERO_IRODS_TIER_DIR="$$dir" \
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -rsx test_harness/tests/irods $(PYTEST_ARGS)

test-irods: $(VENV)/.installed
	@$(call irods_tier,1)

test-irods-long: $(VENV)/.installed
	@$(call irods_tier,long)

# A plain (non-editable) `pip install .` into a fresh venv gives a working command.
test-install:
	tools/check-install

bench: $(VENV)/.installed
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(VENV39) $(VENV_OMERO) build dist *.egg-info policy/*.egg-info .pytest_cache
