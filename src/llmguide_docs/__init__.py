"""The docs harness: every Python block of the guide's pages runs as a test, and what it prints is checked.

One module a job (docs/contributing.md, "How the tests find the blocks", lists them); only `plugin` imports
pytest.
"""
