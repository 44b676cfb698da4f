"""A page that draws an experiment's recorded results carries them as a literal: it must equal the record.

`docs/transformers.md` plots the recall budget check from `experiments/results/recall_budget.json` (written by
`experiments/recall_budget.py --json`) without rerunning it. This test reads the page's `RECORDED` literal
and the JSON record, and fails when one changed without the other. The same holds for the learning-rate sweep
of the recall experiment, `experiments/results/recall_fixed.json` (written by `experiments/recall_sweep.py`), its
moving-query check, `experiments/results/recall_moving.json` (`recall_sweep.py --part moving`), and the learning
rates of LoRA and full fine-tuning that `docs/fine-tuning.md` carries as `SWEEP`
(`experiments/results/lora_rates.json`, written by `experiments/lora_rates.py`).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def page_literal(page: Path, name: str) -> object:
    """The value of the module-level assignment `name = <literal>` in the page's Python blocks."""
    from llmguide_docs.pages import fences

    for fence in fences(page.read_text("utf8")):
        if fence.lang != "python" or f"{name} = " not in "\n".join(fence.body):
            continue
        tree = ast.parse("\n".join(line for line in fence.body if not line.startswith("#")))
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
                return ast.literal_eval(node.value)
    raise AssertionError(f"{page} has no block assigning {name}")


def test_the_recall_budget_figure_draws_the_recorded_curves() -> None:
    record = json.loads((ROOT / "experiments" / "results" / "recall_budget.json").read_text())
    shown = page_literal(ROOT / "docs" / "transformers.md", "RECORDED")
    assert page_literal(ROOT / "docs" / "transformers.md", "DISTANCES") == tuple(record["distances"])
    expected = {
        name: {
            step: tuple(round(a, 2) for a in accs)
            for step, accs in zip(c["steps"], c["accuracy"], strict=True)
        }
        for name, c in record["curves"].items()
    }
    assert shown == expected
    page = (ROOT / "docs" / "transformers.md").read_text("utf8")
    assert record["command"].removeprefix("python experiments/recall_budget.py ").split(" --json")[
        0
    ] in " ".join(page.replace("\n# ", " ").split())  # the page names the command that wrote the record


def test_the_recall_learning_rate_figure_draws_the_recorded_sweep() -> None:
    record = json.loads((ROOT / "experiments" / "results" / "recall_fixed.json").read_text())
    page = ROOT / "docs" / "transformers.md"
    expected = {
        lr: {int(seed): tuple(round(a, 2) for a in accs) for seed, accs in by_seed.items()}
        for lr, by_seed in record["LSTM"]["accuracy"].items()
    }
    assert page_literal(page, "LSTM_RATES") == expected
    assert page_literal(page, "SWEEP_DISTANCES") == tuple(record["distances"])
    # the rate the page calls best for the long range is the record's, and it lies inside the grid
    grid = record["LSTM"]["grid"]
    assert page_literal(page, "LONG_RANGE_BEST") == record["LSTM"]["best_long_range"]
    assert grid[0] != record["LSTM"]["best_long_range"] != grid[-1]


def test_the_evaluation_chapter_carries_the_recorded_variance() -> None:
    record = json.loads((ROOT / "experiments" / "results" / "evaluation_variance.json").read_text())
    shown = page_literal(ROOT / "docs" / "evaluation.md", "RECORDED")
    expected = {
        "seeds": {
            int(seed): (round(r["accuracy"], 3), round(r["low"], 3), round(r["high"], 3))
            for seed, r in record["seeds"].items()
        },
        "differences": {
            int(seed): tuple(round(x, 3) for x in r["vs_first"])
            for seed, r in record["seeds"].items()
            if "vs_first" in r
        },
        "draws": tuple(round(a, 3) for a in record["draws"]),
    }
    assert shown == expected
    page = (ROOT / "docs" / "evaluation.md").read_text("utf8")
    assert record["command"].removeprefix("python ").split(" --json")[0] in " ".join(page.split())


def test_the_fine_tuning_chapter_carries_the_recorded_learning_rate_sweep() -> None:
    record = json.loads((ROOT / "experiments" / "results" / "lora_rates.json").read_text())
    page = ROOT / "docs" / "fine-tuning.md"
    expected = {
        name: {
            float(lr): tuple(
                (round(r["accuracy"], 2), None if r["corpus"] is None else round(r["corpus"], 2))
                for _, r in sorted(by_seed.items(), key=lambda item: int(item[0]))
            )
            for lr, by_seed in by_lr.items()
        }
        for name, by_lr in record["runs"].items()
        if name != "pre-trained"
    }
    assert page_literal(page, "SWEEP") == expected
    assert page_literal(page, "SWEEP_ALPHA") == record["alpha"]
    text = " ".join(page.read_text("utf8").replace("\n# ", " ").split())
    assert record["command"].removeprefix("python ").split(" --json")[0] in text  # the page names the command


def test_the_moving_query_check_carries_the_recorded_sweep() -> None:
    record = json.loads((ROOT / "experiments" / "results" / "recall_moving.json").read_text())
    page = ROOT / "docs" / "transformers.md"
    n_pos = len(record["positions"])

    def by_distance(by_pos: dict[str, list[float]]) -> tuple[float, ...]:
        """Accuracy at each distance, averaged over the query positions."""
        return tuple(
            round(sum(accs[i] for accs in by_pos.values()) / n_pos, 2)
            for i in range(len(record["distances"]))
        )

    expected = {
        lr: {int(seed): by_distance(by_pos) for seed, by_pos in by_seed.items()}
        for lr, by_seed in record["transformer"]["accuracy"].items()
    }
    assert page_literal(page, "MOVING_RATES") == expected
    assert page_literal(page, "MOVING_DISTANCES") == tuple(record["distances"])
    assert page_literal(page, "MOVING_LSTM") == {
        int(seed): by_distance(by_pos) for seed, by_pos in record["LSTM"]["accuracy"]["1e-01"].items()
    }
    grid = record["transformer"]["grid"]
    assert page_literal(page, "MOVING_BEST") == record["transformer"]["best"]
    assert grid[0] != record["transformer"]["best"] != grid[-1]  # inside the grid
    assert len(record["grid_seeds"]) >= 3  # every rate over at least three seeds
    command = record["command"].removeprefix("python ").split(" --json")[0]
    assert command in " ".join(page.read_text("utf8").replace("\n# ", " ").split())  # the page names it
