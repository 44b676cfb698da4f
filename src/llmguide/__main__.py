"""Allow `python -m llmguide ...` as an alias of the `llmguide` command."""

from llmguide.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
