# The guide's task runner. Two commands do everything on a fresh machine (see README.md):
#   make serve   set up .venv, serve the guide at once on http://127.0.0.1:8000/llmguide/, draw the figures behind it
#   make test    set up .venv, run every test (unit tests, every docs block, every notebook), build the site
#                strictly, check its links and open it in a browser: exactly what CI runs (.ci/run)
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
TEST_WORKERS ?= 4
# The exercises' solutions (hand-written notebooks) and their executed copies, which the site renders.
SOLUTIONS := $(wildcard docs/solutions/*.ipynb)
EXECUTED := $(patsubst docs/%,build/notebooks/%,$(SOLUTIONS))

# Links, anchors and external requests in the built HTML; then a real browser opens every page (Playwright on
# the system's Chromium, tests/site_in_browser.py: skipped with a notice where no Chromium/Chrome is installed,
# unless REQUIRE_BROWSER=1, as CI sets it).
define SITE_CHECKS
$(BIN)/python scripts/check_site.py site
$(BIN)/python scripts/browser_check.py site
endef

.PHONY: help setup test serve build figures solutions page notebook check-site portability lint clean

help:
	@echo "make serve   set up, serve the guide at once on http://$(ADDR)/llmguide/ and draw its figures behind it"
	@echo "make test    set up, run every test, build the site with --strict, check its links"
	@echo "make page PAGE=docs/x.md   one page: its blocks, lint, structure (nav, index row, exercises, solutions) and figures"
	@echo "make notebook PAGE=docs/x.md   a chapter run as its notebook, in a fresh kernel, checked like its page"
	@echo "make solutions  run the exercises' solution notebooks changed since their last pass"
	@echo "make figures run the docs blocks of the pages changed since their last pass (they draw the figures)"
	@echo "make portability  run the docs blocks with torch at 1 and at 4 threads (stands in for other CPUs)"
	@echo "make build   draw what changed, then build the site into site/ with --strict"
	@echo "make check-site   build, then check the site's links and open every page in a browser"
	@echo "make lint    ruff"
	@echo "make setup   create .venv and install the project with its extras (every target does it first)"
	@echo "make clean   remove site/, docs/figures/ and caches (keeps .venv)"

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	@mkdir -p $(@D) && touch $@

# Figures and executed notebooks are never committed: wipe them so that only what the current code draws and
# prints can be built. The chapter pages run as their notebooks, each in a fresh kernel, with every statement's
# output checked against the page (--chapters-as-notebooks): their code runs once, not once per block and again
# per notebook (docs/contributing.md, "Notebooks and exercises"). The solutions run in tests/test_notebooks.py.
# The tests run in one pytest-xdist worker per core (at most $(TEST_WORKERS)), each file's tests in one worker,
# torch at one thread per worker: the chapters, kernel starts and subprocess tests of one worker overlap
# with the other's instead of leaving a core idle. The chapters go first, in collection order (xdist's
# default reorder would put the files with the fewest tests, the chapters, last).
test: setup
	rm -rf docs/figures site build/notebooks
	$(BIN)/python -m pytest --chapters-as-notebooks -n auto --maxprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
	@mkdir -p docs/figures && touch $(PAGE_STAMPS) && touch -c $(EXECUTED)
	$(BIN)/python -m mkdocs build --strict
	$(SITE_CHECKS)

docs/figures/.drawn-%: docs/%.md $(PACKAGE) | $(SETUP_STAMP)
	$(BIN)/python -m pytest $< -q -p no:cacheprovider
	@mkdir -p $(@D) && touch $@

figures: setup $(PAGE_STAMPS)

# A solution notebook runs again (in a fresh kernel, writing its executed copy) when it or the package changed.
build/notebooks/solutions/%.ipynb: docs/solutions/%.ipynb $(PACKAGE) | $(SETUP_STAMP)
	$(BIN)/python -m pytest "tests/test_notebooks.py::test_solution_notebook_runs_in_a_fresh_kernel[$*]" -q -p no:cacheprovider

solutions: setup $(EXECUTED)

# The fast loop while writing a page: its blocks, its lint (part of collecting the page), its figures and, for a
# chapter, its structure (llmguide_docs/chapters.py: nav entry, index row, notebook link, exercises, solutions).
page: setup
	@test -n "$(PAGE)" && test -f "$(PAGE)" || { echo "make page: say which page, e.g. make page PAGE=docs/temperature.md"; exit 2; }
	$(BIN)/python -m pytest $(PAGE) -q -p no:cacheprovider
	@mkdir -p docs/figures && touch $(patsubst docs/%.md,docs/figures/.drawn-%,$(PAGE))

# A chapter as readers download it: its notebook, top to bottom in a fresh kernel, each statement's output
# checked against the page (--update-outputs works here too).
notebook: setup
	@test -n "$(PAGE)" && test -f "$(PAGE)" || { echo "make notebook: say which chapter, e.g. make notebook PAGE=docs/temperature.md"; exit 2; }
	$(BIN)/python -m pytest $(PAGE) --chapters-as-notebooks -q -p no:cacheprovider

build: figures solutions
	$(BIN)/python -m mkdocs build --strict

check-site: build
	$(SITE_CHECKS)

# A reader wants to read: the pages are served at once (at the path of site_url, /llmguide/), and the figures
# and the solutions' outputs are filled in behind them, in the order of the nav, through the rules above
# (scripts/serve.py). A figure not drawn yet shows a placeholder; a page whose blocks fail is reported, and the
# server keeps serving. `make build` and `make test` stay strict.
serve: setup
	@VENV=$(VENV) $(BIN)/python scripts/serve.py --addr $(ADDR)

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
	rm -rf site docs/figures build/notebooks build/serve .pytest_cache .ruff_cache .hypothesis
