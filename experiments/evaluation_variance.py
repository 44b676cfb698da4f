"""The variance of a benchmark score, on the prompting chapter's task: reshuffled examples and training seeds.

`docs/evaluation.md` needs two sources of noise that its CPU budget cannot afford to train for: the same model
scored on the same questions with other few-shot examples drawn, and the same recipe trained from other seeds.
This script trains the recipe of `docs/prompting.md` (a 2-layer GPT, 128 wide, 1000 steps of 32 episodes of
`llmguide.tasks.ParityEpisodes`, lr 3e-3) once per seed and scores, at 2 shots:

- every seed on the same 1000 episodes (accuracy, its 95% bootstrap interval, and the paired difference of
  each seed against seed 0 on those episodes);
- seed 0 on 1000 fixed questions (a digit and its episode's two colours), each time with 2 other examples
  drawn, for 10 draws.

    .venv/bin/python experiments/evaluation_variance.py --seeds 0 1 2 --json

With `--json` it writes `experiments/results/evaluation_variance.json`, which the chapter carries as a
literal (`RECORDED`, checked equal by `tests/test_experiment_records.py`).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from recall_budget import cpu_name  # the CPU's model name, as lscpu prints it

from llmguide.evaluate import bootstrap_interval, paired_difference
from llmguide.model import GPT, GPTConfig
from llmguide.tasks import Episode, ParityEpisodes
from llmguide.train import train

SHOTS, N_ITEMS, N_DRAWS = 2, 1000, 10


def correct(task: ParityEpisodes, model: GPT, episodes: list[Episode]) -> list[float]:
    """1.0 where the model's answer is the episode's, 0.0 elsewhere."""
    got = task.answers(model, [task.prompt(e) for e in episodes])
    return [float(a == e.answer) for a, e in zip(got, episodes, strict=True)]


def redraw(task: ParityEpisodes, episodes: list[Episode], rng: random.Random) -> list[Episode]:
    """The same questions and colours, with SHOTS new examples drawn from the other digits."""
    out = []
    for e in episodes:
        colour = {task.group(e.question): e.answer}
        for q, a in e.examples:
            colour[task.group(q)] = a
        others = [d for d in task.items if d != e.question]
        examples = tuple((d, colour[task.group(d)]) for d in rng.choices(others, k=SHOTS))
        out.append(Episode(examples, e.question, e.answer))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--json", action="store_true", help="write experiments/results/evaluation_variance.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = ParityEpisodes()
    # episodes with 8 examples, so that both colours are known; the questions keep 2 of them at first
    full = task.sample(N_ITEMS, n_shots=8, generator=torch.Generator().manual_seed(2024))
    full = [e for e in full if len({task.group(q) for q, _ in e.examples}) == 2]
    base = [Episode(e.examples[:SHOTS], e.question, e.answer) for e in full]
    seeds = {}
    model0 = None
    for seed in args.seeds:
        torch.manual_seed(seed)
        config = GPTConfig(
            vocab_size=task.vocab_size, block_size=task.block_size, n_layer=2, n_head=4, n_embd=128
        )
        model = GPT(config)
        start = time.process_time()
        train(model, task, steps=1000, batch_size=32, lr=3e-3, seed=seed, device="cpu")
        scores = correct(task, model, base)
        low, high = bootstrap_interval(scores)
        seeds[seed] = {"scores": scores, "accuracy": sum(scores) / len(scores), "low": low, "high": high}
        print(
            f"seed {seed}: accuracy {seeds[seed]['accuracy']:.3f} [{low:.3f}, {high:.3f}]"
            f"  ({time.process_time() - start:.0f} s CPU)",
            flush=True,
        )
        if model0 is None:
            model0 = model
    first = args.seeds[0]
    for seed in args.seeds[1:]:
        d = paired_difference(seeds[seed]["scores"], seeds[first]["scores"])
        seeds[seed]["vs_first"] = [d.difference, d.low, d.high]
        print(f"seed {seed} - seed {first}: {d.difference:+.3f} [{d.low:+.3f}, {d.high:+.3f}]")
    rng = random.Random(0)
    draws = []
    for _ in range(N_DRAWS):
        scores = correct(task, model0, redraw(task, full, rng))
        draws.append(sum(scores) / len(scores))
    print("seed", first, "over", N_DRAWS, "draws of the examples:", " ".join(f"{a:.3f}" for a in draws))
    if args.json:
        record = {
            "command": "python experiments/evaluation_variance.py --seeds "
            + " ".join(map(str, args.seeds))
            + " --json",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": cpu_name(),
            "torch": torch.__version__,
            "shots": SHOTS,
            "items": len(base),
            "seeds": {str(s): {k: v for k, v in r.items() if k != "scores"} for s, r in seeds.items()},
            "draws": draws,
        }
        path = Path(__file__).parent / "results" / "evaluation_variance.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print("wrote", path)


if __name__ == "__main__":
    main()
