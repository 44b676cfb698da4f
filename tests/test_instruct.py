"""Tests of llmguide.instruct: the chat layout against the ChatML text written out by hand, the mask against
the prompt's length, the held-out words, and the accuracy against a model that is made to answer right."""

from __future__ import annotations

import pytest
import torch

from llmguide.data import encode
from llmguide.instruct import CaseTask, sft_example
from llmguide.model import IGNORE_INDEX


def test_sequence_is_chatml_and_the_mask_covers_the_prompt() -> None:
    task = CaseTask()
    text = "<|im_start|>user\ncase abcd<|im_end|>\n<|im_start|>assistant\nlower<|im_end|>"
    assert task.prompt("abcd") + task.completion("abcd") == text
    x, y = sft_example(task.prompt("abcd"), task.completion("abcd"))
    prompt_len = len(encode(task.prompt("abcd")))
    assert x.tolist() == encode(text)[:-1]
    assert (y[: prompt_len - 1] == IGNORE_INDEX).all()
    assert y[prompt_len - 1 :].tolist() == encode("lower<|im_end|>")
    assert task.completion("ABCD") == "upper<|im_end|>"
    _, unmasked = sft_example(task.prompt("abcd"), task.completion("abcd"), mask_prompt=False)
    assert unmasked.tolist() == encode(text)[1:]
    assert task.block_size == len(text) - 1


def test_batches_follow_mask_and_split() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = CaseTask().get_batch("train", 4, generator=g)
    assert x.shape == y.shape == (4, CaseTask().block_size)
    assert int((y != IGNORE_INDEX).sum()) == 4 * len("lower<|im_end|>")
    _, y2 = CaseTask(mask_prompt=False).get_batch("train", 4, generator=g)
    assert (y2 != IGNORE_INDEX).all()


def test_val_words_are_held_out_of_train() -> None:
    task = CaseTask(word_len=2)
    g = torch.Generator().manual_seed(0)

    def index(w: str) -> int:
        w = w.lower()
        return (ord(w[0]) - 97) * 26 + ord(w[1]) - 97

    val = task.words("val", 500, generator=g)
    train = task.words("train", 5000, generator=g)
    assert all(index(w) % 10 == 0 for w in val)
    assert all(index(w) % 10 != 0 for w in train)
    assert len(set(train)) > 500  # and train covers the rest widely
    assert 0.4 < sum(w.isupper() for w in train) / len(train) < 0.6  # and both cases


def test_pairs_differ_only_by_the_suffix() -> None:
    task = CaseTask()
    x, y = task.get_pairs("val", 3, generator=torch.Generator().manual_seed(0))
    assert x.shape[0] == 6
    for i in range(3):
        chosen = [t for t in y[i].tolist() if t != IGNORE_INDEX]
        rejected = [t for t in y[i + 3].tolist() if t != IGNORE_INDEX]
        assert chosen == [*rejected[:5], ord("."), *rejected[5:]]  # "upper" or "lower", then "."


class _Oracle(torch.nn.Module):
    """A 'model' whose generate writes the right answer (or a wrong one), to test the scoring alone."""

    def __init__(self, task: CaseTask, wrong: bool = False) -> None:
        super().__init__()
        self.task, self.wrong, self.p = task, wrong, torch.nn.Parameter(torch.zeros(1))

    def generate(self, idx: torch.Tensor, n: int, temperature: float = 0) -> torch.Tensor:
        rows = []
        for row in idx.tolist():
            word = bytes(row).decode().split("case ")[1][: self.task.word_len]
            answer = encode(self.task.completion(word if not self.wrong else word.swapcase()) + "xx")[:n]
            rows.append(row + answer + [0] * (n - len(answer)))
        return torch.tensor(rows)


def test_accuracy_scores_exact_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # the answers come from llmguide.generation.generate: here, from the oracle instead
    monkeypatch.setattr(
        "llmguide.instruct.generate", lambda model, idx, n, temperature: model.generate(idx, n, temperature)
    )
    task = CaseTask()
    words = ["abcd", "WXYZ", "zzzz"]
    assert task.accuracy(_Oracle(task), words) == 1.0
    assert task.answers(_Oracle(task), words)[1] == "upper<|im_end|>"
    assert task.accuracy(_Oracle(task, wrong=True), words) == 0.0
    assert task.accuracy(_Oracle(task), words, suffix=".") == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="prompt"):
        sft_example("", "x")
    with pytest.raises(ValueError, match="word_len"):
        CaseTask(word_len=0)
    with pytest.raises(ValueError, match="words\\[0\\]"):
        CaseTask().answers(torch.nn.Linear(1, 1), ["abc"])
    with pytest.raises(ValueError, match="suffix"):
        CaseTask().get_pairs("train", 1, generator=torch.Generator(), suffix="")
