"""A synthetic instruction task in a chat template, for supervised fine-tuning and preference tuning.

Supervised fine-tuning (SFT) trains a pre-trained model on conversations: a prompt written in the chat
template (`llmguide.prompts.chat_prompt`), followed by the answer the assistant should give and the marker
that closes its turn. The loss is usually taken on the answer only: `sft_example` sets the targets of the
prompt's positions to `llmguide.model.IGNORE_INDEX`, which the model's loss skips.

- `sft_example`: token ids and targets of one prompt and completion, the prompt masked or not.
- `CaseTask`: the chapter's task, "case abcd" answered "lower" and "case ABCD" answered "upper", with
  held-out words, a `get_batch` for `llmguide.train.train`, greedy answers and their accuracy, and preference
  pairs for DPO (`llmguide.dpo`) that prefer an answer ending with a period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from llmguide.data import decode, encode
from llmguide.generation import generate
from llmguide.model import GPT, IGNORE_INDEX
from llmguide.prompts import CHATML_END, chat_prompt
from llmguide.validate import check_batch_request, check_bool, check_instance, check_int

__all__ = ["CaseTask", "sft_example"]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def sft_example(
    prompt: str, completion: str, *, mask_prompt: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the inputs and targets of one training sequence: `prompt` followed by `completion`.

    The byte tokens of `prompt + completion` are shifted by one as in pre-training: `x` is every token but
    the last, `y` every token but the first. With `mask_prompt`, the targets that are prompt tokens are
    `IGNORE_INDEX`, so the loss counts only the completion's tokens (the first of them is predicted from the
    prompt's last position).

    For example:

    ```python
    from llmguide.instruct import sft_example

    x, y = sft_example("ab", "CD")
    print(x.tolist(), y.tolist())  # targets: -1 for 'b' (a prompt token), then 'C' and 'D'
    #> [97, 98, 67] [-1, 67, 68]
    print(sft_example("ab", "CD", mask_prompt=False)[1].tolist())
    #> [98, 67, 68]
    ```

    Args:
        prompt: the prompt, e.g. from `llmguide.prompts.chat_prompt`; at least one byte.
        completion: what the model should write after it; at least one byte.
        mask_prompt: leave the prompt's tokens out of the loss.

    Returns:
        `(x, y)`, two 1-D int64 tensors of `len(prompt + completion) - 1` tokens (bytes).

    Raises:
        TypeError: `prompt` or `completion` is not a `str`, or `mask_prompt` not a bool.
        ValueError: `prompt` or `completion` is empty.
    """
    check_bool("mask_prompt", mask_prompt)
    p, c = encode(prompt), encode(completion)
    for name, ids in (("prompt", p), ("completion", c)):
        if not ids:
            raise ValueError(f"{name} must hold at least one character, got an empty string")
    ids = torch.tensor(p + c, dtype=torch.long)
    x, y = ids[:-1], ids[1:].clone()
    if mask_prompt:
        y[: len(p) - 1] = IGNORE_INDEX
    return x, y


@dataclass(frozen=True)
class CaseTask:
    """Name the case of a word: the user writes `case abcd`, the assistant answers `lower` (`upper` for `ABCD`).

    Every conversation is one user message in ChatML, then the answer and the `<|im_end|>` marker that ends
    the assistant's turn. Words are `word_len` random letters, all lowercase or all uppercase with equal
    probability, so every sequence has the same length and the answer is known exactly. One spelling in ten
    (those whose index in base 26 is a multiple of 10) is held out: the `"val"` split and `words("val", ...)`
    draw only those, the `"train"` split never.

    For example:

    ```python
    from llmguide.instruct import CaseTask

    task = CaseTask()
    print(task.prompt("CAKE") + task.completion("CAKE"))
    #> <|im_start|>user
    #> case CAKE<|im_end|>
    #> <|im_start|>assistant
    #> upper<|im_end|>
    ```

    Attributes:
        word_len: letters per word, `>= 1`.
        mask_prompt: leave the prompt's tokens out of the loss (see `sft_example`).
        instruction: the word that opens the user's message.
    """

    word_len: int = 4
    mask_prompt: bool = True
    instruction: str = "case"

    def __post_init__(self) -> None:
        check_int("word_len", self.word_len, minimum=1)
        check_bool("mask_prompt", self.mask_prompt)
        check_instance("instruction", self.instruction, str, "a str")

    @property
    def block_size(self) -> int:
        """Tokens in one training sequence (`get_batch`'s width); the model's `block_size` must be at least this."""
        return len(encode(self.prompt("a" * self.word_len) + self.completion("a" * self.word_len))) - 1

    def prompt(self, word: str) -> str:
        """The chat prompt that asks for the case of `word`, ending with the open assistant turn."""
        return chat_prompt([{"role": "user", "content": f"{self.instruction} {word}"}])

    def completion(self, word: str, suffix: str = "") -> str:
        """The assistant's answer to `word` (`upper` or `lower`, then `suffix`), closed by `<|im_end|>`."""
        return ("upper" if word.isupper() else "lower") + suffix + CHATML_END

    def words(self, split: str, n: int, *, generator: torch.Generator) -> list[str]:
        """Draw `n` words of the split (with repeats): `"val"` words are held out of `"train"`.

        Args:
            split: `"train"` or `"val"`.
            n: number of words, `>= 1`.
            generator: CPU `torch.Generator` that draws them.

        Returns:
            `n` words of `word_len` letters, each all lowercase or all uppercase (a coin flip).

        Raises:
            TypeError, ValueError: a bad `split`, `n` or `generator`.
        """
        check_batch_request(split, n, generator)
        total = 26**self.word_len
        if split == "val":
            index = 10 * torch.randint((total + 9) // 10, (n,), generator=generator)
        else:
            index = torch.randint(total, (n,), generator=generator)
            index = index + (index % 10 == 0).long()  # skip the held-out words
        upper = torch.randint(2, (n,), generator=generator).tolist()
        out = []
        for i, up in zip((index % total).tolist(), upper, strict=True):
            letters = []
            for _ in range(self.word_len):
                i, r = divmod(i, 26)
                letters.append(_LETTERS[r])
            word = "".join(reversed(letters))
            out.append(word.upper() if up else word)
        return out

    def get_batch(
        self,
        split: str,
        batch_size: int,
        *,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `batch_size` conversations as inputs and targets, the prompts masked if `mask_prompt`.

        This is the interface `llmguide.train.train` draws from.

        Args:
            split: `"train"` or `"val"`.
            batch_size: number of conversations, `>= 1`.
            generator: CPU `torch.Generator` that draws the words.
            device: where the returned tensors live.

        Returns:
            `(x, y)`, int64 tensors of shape `(batch_size, block_size)`.

        Raises:
            TypeError, ValueError: a bad `split`, `batch_size` or `generator`.
        """
        rows = [
            sft_example(self.prompt(w), self.completion(w), mask_prompt=self.mask_prompt)
            for w in self.words(split, batch_size, generator=generator)
        ]
        x = torch.stack([r[0] for r in rows])
        y = torch.stack([r[1] for r in rows])
        return x.to(device), y.to(device)

    def answers(self, model: GPT, words: Sequence[str], max_new_tokens: int | None = None) -> list[str]:
        """Return the model's greedy answers to `words`, each cut at the first `<|im_end|>` (kept).

        Args:
            model: a `llmguide.model.GPT` over bytes.
            words: the words to ask about.
            max_new_tokens: tokens to generate; default the length of a correct answer plus two.

        Returns:
            One decoded answer per word; it ends with `<|im_end|>` if the model closed its turn.

        Raises:
            TypeError: `words` is not a sequence of strings.
            ValueError: `words` is empty or holds words of another length than `word_len`.
        """
        words = self._check_words(words)
        n = len(encode(self.completion(words[0]))) + 2 if max_new_tokens is None else max_new_tokens
        idx = torch.tensor([encode(self.prompt(w)) for w in words], dtype=torch.long)
        device = next(model.parameters()).device
        out = generate(model, idx.to(device), n, temperature=0)[:, idx.size(1) :]
        texts = [decode(row) for row in out.cpu()]
        return [t[: t.index(CHATML_END) + len(CHATML_END)] if CHATML_END in t else t for t in texts]

    def accuracy(self, model: torch.nn.Module, words: Sequence[str], suffix: str = "") -> float:
        """Return the fraction of `words` that the model answers exactly: the case + `suffix` + `<|im_end|>`.

        Args:
            model: as in `answers`.
            words: the words to ask about.
            suffix: what a correct answer has after `upper` or `lower` (e.g. `"."`).

        Returns:
            A fraction in [0, 1].
        """
        got = self.answers(model, words, len(encode(self.completion(words[0], suffix))) + 2)
        return sum(g == self.completion(w, suffix) for g, w in zip(got, words, strict=True)) / len(words)

    def get_pairs(
        self, split: str, batch_size: int, *, generator: torch.Generator, suffix: str = "."
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return preference pairs: the same prompt answered with `suffix` (chosen) and without (rejected).

        Both answers are correct; the preference encodes a rule stated outside the data, "end the answer with
        a period". The `batch_size` chosen rows come first, then the rejected rows in the same order, padded on
        the right (token 0, target `IGNORE_INDEX`) to one width; the prompts are masked, so the targets hold
        only the answers, whose summed log-probability is what DPO compares (`llmguide.dpo.sequence_logprobs`).

        Args:
            split: `"train"` or `"val"`.
            batch_size: number of pairs, `>= 1`.
            generator: CPU `torch.Generator` that draws the words.
            suffix: what the chosen answer adds before `<|im_end|>`; non-empty.

        Returns:
            `(x, y)`, int64 tensors of shape `(2 * batch_size, T)`.

        Raises:
            TypeError, ValueError: a bad `split`, `batch_size` or `generator`, or an empty `suffix`.
        """
        check_instance("suffix", suffix, str, "a str")
        if not suffix:
            raise ValueError("suffix must be non-empty: the chosen and rejected answers would be the same")
        words = self.words(split, batch_size, generator=generator)
        rows = [sft_example(self.prompt(w), self.completion(w, suffix)) for w in words]
        rows += [sft_example(self.prompt(w), self.completion(w)) for w in words]
        width = max(len(r[0]) for r in rows)
        x = torch.zeros(len(rows), width, dtype=torch.long)
        y = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for i, (xi, yi) in enumerate(rows):
            x[i, : len(xi)], y[i, : len(yi)] = xi, yi
        return x, y

    def _check_words(self, words: object) -> list[str]:
        if isinstance(words, str) or not isinstance(words, Sequence):
            raise TypeError(f"words must be a sequence of strings, got {type(words).__name__}")
        if not words:
            raise ValueError("words must hold at least one word, got an empty sequence")
        if len({len(w) for w in words}) != 1:
            raise ValueError("words must all have one length, so that the prompts can be batched")
        for i, w in enumerate(words):
            check_instance(f"words[{i}]", w, str, "a str")
            if len(w) != self.word_len or not (w.isupper() or w.islower()):
                raise ValueError(
                    f"words[{i}] must be {self.word_len} letters of one case (word_len), got {w!r}"
                )
        return list(words)
