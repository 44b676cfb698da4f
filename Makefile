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
# One stamp per page: a page's blocks run again (and redraw its figures) only when the page or the package
# changed since they last passed, so a build after editing one page runs that page alone.
PAGES := $(wildcard docs/*.md)
PAGE_STAMPS := $(patsubst docs/%.md,docs/figures/.drawn-%,$(PAGES))
PACKAGE := $(wildcard src/llmguide/*.py)
PAGE ?=

# Links, anchors and external requests in the built HTML; then a real browser opens every page (skipped with
# a notice where no Chromium/Chrome is installed, unless REQUIRE_BROWSER=1, as CI sets it).
define SITE_CHECKS
$(BIN)/python scripts/check_site.py site
@$(BIN)/python scripts/browser_check.py site; rc=$$?; \
if [ $$rc -eq 3 ] && [ -z "$(REQUIRE_BROWSER)" ]; then \
  echo "make: skipped the browser check: no Chromium or Chrome installed (CI runs it)"; \
elif [ $$rc -ne 0 ]; then exit $$rc; fi
endef

.PHONY: help setup test serve build figures page check-site portability lint clean

help:
	@echo "make serve   set up, draw the figures, serve the guide on http://$(ADDR)"
	@echo "make test    set up, run every test, build the site with --strict, check its links"
	@echo "make page PAGE=docs/x.md   one page: its blocks, its lint and its figures, in seconds"
	@echo "make figures run the docs blocks of the pages changed since their last pass (they draw the figures)"
	@echo "make portability  run the docs blocks with torch at 1 and at 4 threads (stands in for other CPUs)"
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
	@mkdir -p docs/figures && touch $(PAGE_STAMPS)
	$(BIN)/python -m mkdocs build --strict
	$(SITE_CHECKS)

docs/figures/.drawn-%: docs/%.md $(PACKAGE) | $(SETUP_STAMP)
	$(BIN)/python -m pytest $< -q -p no:cacheprovider
	@mkdir -p $(@D) && touch $@

figures: setup $(PAGE_STAMPS)

# The fast loop while writing a page: its blocks, its lint (part of collecting the page) and its figures.
page: setup
	@test -n "$(PAGE)" && test -f "$(PAGE)" || { echo "make page: say which page, e.g. make page PAGE=docs/temperature.md"; exit 2; }
	$(BIN)/python -m pytest $(PAGE) -q -p no:cacheprovider
	@mkdir -p docs/figures && touch $(patsubst docs/%.md,docs/figures/.drawn-%,$(PAGE))

build: figures
	$(BIN)/python -m mkdocs build --strict

check-site: build
	$(SITE_CHECKS)

# A reader wants to read: a failing block is reported, and the pages are served all the same (a figure drawn
# after the failure may be missing). `make test` still fails on any failure.
serve: setup
	@$(MAKE) --no-print-directory -k figures || \
	  echo "make serve: some docs blocks failed (see above); serving the pages anyway. 'make test' will fail until they pass."
	$(BIN)/python -m mkdocs serve --dev-addr $(ADDR)

# The pages' results at other thread counts: float sums split another way, as on another CPU. Every measured
# output must stay within its page's tolerance, and every exact output and claim must hold (see
# docs/contributing.md, "Exact and measured output").
portability: setup
	@for n in 1 4; do \
	  echo "make portability: docs blocks with torch at $$n thread(s)"; \
	  $(BIN)/python -m pytest docs -q -p no:cacheprovider --torch-threads=$$n || exit 1; \
	done

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf site docs/figures .pytest_cache .ruff_cache .hypothesis
