# The guide's task runner. Two commands do everything on a fresh machine (see README.md):
#   make serve   set up .venv, draw the figures, serve the guide on http://127.0.0.1:8000
#   make test    set up .venv, run every test (unit tests + every docs block), build the site strictly
#                and check its links: exactly what CI runs (.ci/run)
PYTHON ?= python3
VENV ?= .venv
ADDR ?= 127.0.0.1:8000
BIN := $(VENV)/bin
# mkdocs-material prints a notice about MkDocs 2 on every build; MkDocs is pinned < 2 on purpose (README).
export NO_MKDOCS_2_WARNING := 1
SETUP_STAMP := $(VENV)/.llmguide-setup
FIGURES_STAMP := docs/figures/.drawn

# Links, anchors and external requests in the built HTML; then a real browser opens every page (skipped with
# a notice where no Chromium/Chrome is installed, unless REQUIRE_BROWSER=1, as CI sets it).
define SITE_CHECKS
$(BIN)/python scripts/check_site.py site
@$(BIN)/python scripts/browser_check.py site; rc=$$?; \
if [ $$rc -eq 3 ] && [ -z "$(REQUIRE_BROWSER)" ]; then \
  echo "make: skipped the browser check: no Chromium or Chrome installed (CI runs it)"; \
elif [ $$rc -ne 0 ]; then exit $$rc; fi
endef

.PHONY: help setup test serve build figures check-site lint clean

help:
	@echo "make serve   set up, draw the figures, serve the guide on http://$(ADDR)"
	@echo "make test    set up, run every test, build the site with --strict, check its links"
	@echo "make figures run the docs blocks only (they draw docs/figures/*.svg)"
	@echo "make build   build the site into site/ (needs the figures)"
	@echo "make lint    ruff"
	@echo "make clean   remove site/, docs/figures/ and caches (keeps .venv)"

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	@mkdir -p $(@D) && touch $@

# Figures are never committed: wipe them so that only what the current code draws can be built.
test: setup
	rm -rf docs/figures site
	$(BIN)/python -m pytest
	@mkdir -p docs/figures && touch $(FIGURES_STAMP)
	$(BIN)/python -m mkdocs build --strict
	$(SITE_CHECKS)

$(FIGURES_STAMP): $(SETUP_STAMP) $(wildcard docs/*.md) $(wildcard src/llmguide/*.py)
	rm -rf docs/figures
	$(BIN)/python -m pytest docs -q
	@mkdir -p $(@D) && touch $@

figures: setup $(FIGURES_STAMP)

build: figures
	$(BIN)/python -m mkdocs build --strict

check-site: build
	$(SITE_CHECKS)

serve: figures
	$(BIN)/python -m mkdocs serve --dev-addr $(ADDR)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf site docs/figures .pytest_cache .ruff_cache .hypothesis
