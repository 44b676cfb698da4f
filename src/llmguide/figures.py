"""Save the figures that the guide's pages draw.

Every figure in the guide is drawn by the visible code on its page and saved with `save_figure`. Where the
file goes:

- when the documentation tests run, into `docs/figures/` (the test harness sets `LLMGUIDE_FIGURE_DIR`), which
  is where the page's `![...](figures/NAME.svg)` points; that folder is never committed, so the published
  site can only show figures that the current code drew;
- when you run a block yourself, into `./figures/` under your working directory, or wherever
  `LLMGUIDE_FIGURE_DIR` points.

matplotlib is needed only here (it is in the `docs` and `test` extras), so it is imported lazily.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from llmguide.validate import check_instance

FIGURE_DIR_ENV = "LLMGUIDE_FIGURE_DIR"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def figure_dir() -> Path:
    """Return the folder figures are written to (`$LLMGUIDE_FIGURE_DIR`, else `./figures`).

    For example:

    ```python
    from llmguide.figures import figure_dir

    print(figure_dir().name)  # under the docs tests: docs/figures
    #> figures
    ```
    """
    return Path(os.environ.get(FIGURE_DIR_ENV) or "figures")


def save_figure(fig: Any, name: str) -> Path:
    """Save a matplotlib figure as `<figure_dir()>/<name>.svg` and close it; return the path.

    The SVG is written reproducibly (no timestamp, fixed element ids), so the same code gives the same bytes.

    Args:
        fig: a `matplotlib.figure.Figure`.
        name: lowercase letters, digits and dashes, e.g. `"temperature-distributions"`; the page shows it
            as `![...](figures/temperature-distributions.svg)`.

    Raises:
        TypeError: `fig` is not a matplotlib figure, or `name` is not a string.
        ValueError: `name` is not of the allowed form.

    For example:

    ```python
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from llmguide.figures import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, "example-line")
    print(path.name)
    #> example-line.svg
    ```
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    check_instance("fig", fig, Figure, "a matplotlib.figure.Figure")
    check_instance("name", name, str, "a str")
    if not _NAME.match(name):
        raise ValueError(
            f"name must be lowercase letters, digits and dashes (e.g. 'loss-curve'), got {name!r}"
        )
    out = figure_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.svg"
    with plt.rc_context({"svg.hashsalt": name, "svg.fonttype": "path"}):
        fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return path
