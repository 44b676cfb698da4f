"""The docs harness: every Python block of the guide's pages runs as a test, and what it prints is checked.

Modules by job (docs/contributing.md, "The docs harness", draws them): `outputs` (the `#>`, `#~`, `#?` line
grammar), `pages` (a page's fences and runnable blocks), `check` (a statement's output against its lines),
`lint` (a page's rules and ruff), `site` (mkdocs.yml), `notebook` (page to notebook, and notebook runs),
`chapters` (a chapter's structure) and `plugin` (pytest on top). Only `plugin` imports pytest.
"""
