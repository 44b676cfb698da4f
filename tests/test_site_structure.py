"""The contributor's checklist, enforced: what a new chapter or module must come with (docs/contributing.md).

Each chapter's own items (nav entry, index row, notebook link, exercises, paired solutions, figures) are
checked page by page by llmguide_docs/chapters.py, in `make page` and `make test`; this file checks the site as
a whole:

- every chapter of the notes has its row in the table "What each chapter checks" of `docs/index.md`, and every
  chapter under the nav's section "Beyond the notes" its row in the index's table "Beyond the notes";
- every module of the package is documented by a reference page (`::: llmguide.MODULE`);
- every reference page is in the nav, and every page in the nav exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from llmguide_docs import chapters as chapterchecks  # each chapter's own check; the site-wide ones are here
from llmguide_docs.chapters import PART_TWO, table_links
from llmguide_docs.site import nav_pages  # the nav's pages, as the notebook build reads mkdocs.yml

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "src" / "llmguide"
NOT_CHAPTERS = {"index.md", "contributing.md"}


def test_every_page_in_the_nav_exists():
    missing = [p for p in nav_pages() if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"


def part_two_chapters(config: dict | None = None) -> list[str]:
    """The chapters under the nav's section "Beyond the notes" (empty while it has none)."""
    from llmguide_docs.site import mkdocs_config

    return chapterchecks.part_two_chapters(config or mkdocs_config())


def test_every_chapter_has_a_row_in_the_front_page_table():
    index = (DOCS / "index.md").read_text("utf8")
    chapters = [p for p in nav_pages() if "/" not in p and p not in NOT_CHAPTERS]
    part_two = part_two_chapters()
    part_one = [c for c in chapters if c not in part_two]
    missing = [c for c in part_one if c not in table_links(index, "What each chapter checks")]
    assert not missing, (
        f"add a row for {missing} to the table 'What each chapter checks' in docs/index.md "
        "(chapter link | the notes' claim | what the chapter's code shows)"
    )
    missing = [c for c in part_two if c not in table_links(index, PART_TWO)]
    assert not missing, (
        f"add a row for {missing} to the table '{PART_TWO}' in docs/index.md "
        "(chapter link | the chapter's question | what the chapter's code shows)"
    )


def test_every_module_has_a_reference_page():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_"))
    documented = {
        m
        for page in (DOCS / "reference").glob("*.md")
        for m in re.findall(r"^::: llmguide\.(\w+)", page.read_text("utf8"), re.M)
    }
    missing = [m for m in modules if m not in documented]
    names = ", ".join(f"llmguide.{m}" for m in missing)
    assert not missing, (
        f"no reference page documents {names}: add docs/reference/MODULE.md with `::: llmguide.MODULE`"
    )


def test_every_reference_page_is_in_the_nav():
    pages = {f"reference/{p.name}" for p in (DOCS / "reference").glob("*.md")}
    missing = sorted(pages - set(nav_pages()))
    assert not missing, f"add {missing} to the 'API reference' section of mkdocs.yml's nav"


def test_the_checks_can_fail(tmp_path, monkeypatch):
    # A page that is not in the nav, and a module that no page documents, are caught.
    monkeypatch.setattr(__import__(__name__), "DOCS", tmp_path)
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "orphan.md").write_text("::: llmguide.model\n")
    try:
        test_every_reference_page_is_in_the_nav()
    except AssertionError as error:
        assert "reference/orphan.md" in str(error)
    else:
        raise AssertionError("an orphan reference page was not caught")
    try:
        test_every_module_has_a_reference_page()
    except AssertionError as error:
        assert "sampling" in str(error)
    else:
        raise AssertionError("an undocumented module was not caught")


def test_part_two_is_read_from_its_own_nav_section_and_table():
    nav = {
        "nav": [
            {"Introduction": "index.md"},
            {"Scaling laws": [{"Scaling laws": "scaling-laws.md"}, {"x": "solutions/scaling-laws.ipynb"}]},
            {PART_TWO: [{"Tokens": [{"Tokens": "tokens.md"}, {"Exercises": "solutions/tokens.ipynb"}]}]},
            {"Appendix": [{"GPUs": "appendix/gpus.md"}]},
        ]
    }
    assert part_two_chapters(nav) == ["tokens.md"]
    assert part_two_chapters({"nav": nav["nav"][:2]}) == []
    index = (
        "## What each chapter checks\n\n| [Scaling laws](scaling-laws.md) | a | b |\n\n"
        f"## {PART_TWO}\n\n| Chapter | The question | What the chapter's code shows |\n| --- | --- | --- |\n"
        "| [Tokens](tokens.md#bytes) | q | c |\n\n## Running the examples\n\n| [Not a row](x.md) |\n"
    )
    assert table_links(index, "What each chapter checks") == {"scaling-laws.md"}
    assert table_links(index, PART_TWO) == {"tokens.md"}
    assert table_links(index.replace(f"## {PART_TWO}", "## Elsewhere"), PART_TWO) == set()


def test_every_chapter_has_a_key_term_for_the_browser_search_check():
    # tests/site_in_browser.py searches the built site for each chapter's key term; a chapter without one
    # would silently never be searched for.
    import ast

    source = (ROOT / "tests" / "site_in_browser.py").read_text("utf8")
    (node,) = [
        n
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "KEY_TERMS"
    ]
    terms = ast.literal_eval(node.value)
    chapters = {Path(p).stem for p in nav_pages() if "/" not in p and p not in NOT_CHAPTERS}
    missing = sorted(chapters - set(terms))
    assert not missing, f"add a key term for {missing} to KEY_TERMS in tests/site_in_browser.py"
