"""Synthetic training tasks: data sets generated on the fly, each with the `get_batch` that `train` draws from.

Each task makes sequences whose answers are known exactly, so that what a trained model learned can be
measured without noise from a corpus:

- `RecallTask` (chapter "Transformers"): random symbols followed by queries asking for the symbol `d`
  positions back: a long-range dependency whose range `d` is set exactly.
- `ParityEpisodes` and its `Episode` (chapter "Prompting"): few-shot prompts whose answers only the examples
  in the prompt can give, laid out with `llmguide.prompts.few_shot`, to measure in-context learning.

Both have the `get_batch(split, batch_size, *, generator, device)` method of `llmguide.train.BatchSource`.
Positions without a target hold `llmguide.model.IGNORE_INDEX`, which the models' losses skip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from llmguide.model import IGNORE_INDEX, eval_logits
from llmguide.prompts import check_line, check_prefixes, few_shot
from llmguide.validate import check_batch_request, check_instance, check_int

__all__ = ["Episode", "ParityEpisodes", "RecallTask"]


@dataclass(frozen=True)
class RecallTask:
    """Synthetic long-range dependency: recall the symbol that appeared `d` positions back.

    Each sequence is `seq_len` random symbols (ids `0 .. n_symbols - 1`) followed by `n_queries` query
    tokens. A query names a distance `d` from `distances` (query ids start at `n_symbols`) and asks for the
    symbol `d` positions before the first query, i.e. `x[b, seq_len - d]`; for the first query that is exactly
    `d` positions back, for the j-th (counting from 0) `d + j`. The targets are the answers at the query
    positions and `IGNORE_INDEX` everywhere else, so the loss and the accuracy measure recall alone. Several
    queries per sequence give several answers to learn from for the price of one sequence.

    Sequences are generated on the fly from the generator passed in: there is no data set to store, and a
    seeded generator repeats it exactly. A model that attends to every earlier position can fetch the answer
    directly; a recurrent model has to carry the last `max(distances)` symbols in its fixed-size state.

    For example:

    ```python
    import torch
    from llmguide.tasks import RecallTask

    task = RecallTask(distances=(1, 4), n_symbols=8, seq_len=6, n_queries=2)
    x, y = task.get_batch("train", 1, generator=torch.Generator().manual_seed(2))
    print(x.tolist())  # six symbols, then query 8 (asks for d=1) and query 9 (d=4)
    #> [[0, 7, 5, 0, 6, 3, 8, 9]]
    print(y.tolist())  # answers: the symbols 1 and 4 places before the first query
    #> [[-1, -1, -1, -1, -1, -1, 3, 5]]
    ```

    Attributes:
        distances: the distances `d` that queries ask for, each in [1, seq_len].
        n_symbols: number of distinct random symbols (chance accuracy is `1 / n_symbols`).
        seq_len: random symbols before the queries.
        n_queries: queries after the symbols; a sequence is `seq_len + n_queries` tokens long.

    Raises:
        TypeError: a setting is not an integer, or `distances` is not a sequence of integers.
        ValueError: `n_symbols < 2`, `seq_len` or `n_queries` below 1, or `distances` empty, repeated or
            outside [1, seq_len].
    """

    distances: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    n_symbols: int = 16
    seq_len: int = 64
    n_queries: int = 1

    def __post_init__(self) -> None:
        check_int("n_symbols", self.n_symbols, minimum=2)
        check_int("seq_len", self.seq_len, minimum=1)
        check_int("n_queries", self.n_queries, minimum=1)
        check_instance("distances", self.distances, Sequence, "a sequence of integers")
        dists = tuple(check_int("distances", d, minimum=1, maximum=self.seq_len) for d in self.distances)
        if not dists or len(set(dists)) != len(dists):
            raise ValueError(f"distances must be a non-empty sequence of distinct integers, got {dists!r}")
        object.__setattr__(self, "distances", dists)

    @property
    def vocab_size(self) -> int:
        """Number of token ids in use: the symbols plus one query token per distance."""
        return self.n_symbols + len(self.distances)

    @property
    def block_size(self) -> int:
        """Length of one sequence in tokens (`seq_len + n_queries`): a model's context must be this long."""
        return self.seq_len + self.n_queries

    def query_token(self, d: int) -> int:
        """Return the token id of the query that asks for distance `d`.

        Args:
            d: one of `distances`.

        Returns:
            The query's token id, in [n_symbols, vocab_size).

        Raises:
            TypeError: `d` is not an integer.
            ValueError: `d` is not one of `distances`.
        """
        if check_int("d", d) not in self.distances:
            raise ValueError(f"d must be one of distances={self.distances}, got {d!r}")
        return self.n_symbols + self.distances.index(d)

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator,
        d: int | None = None,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `batch_size` sequences and their targets; every query asks for `d`, or a random distance.

        Args:
            batch_size: number of sequences.
            generator: CPU `torch.Generator` that draws symbols and distances.
            d: the distance that every query asks for, one of `distances`; None draws one per query.
            device: where the returned tensors live.

        Returns:
            `(x, y)`, int64 tensors of shape `(batch_size, seq_len + n_queries)`; `y` holds the answers in
            the query columns (the last `n_queries`) and `IGNORE_INDEX` elsewhere.

        Raises:
            TypeError: `batch_size` or `d` is not an integer, or `generator` is not a `torch.Generator`.
            ValueError: `d` not in `distances`, or `batch_size < 1`.
        """
        check_batch_request("train", batch_size, generator)
        symbols = torch.randint(self.n_symbols, (batch_size, self.seq_len), generator=generator)
        shape = (batch_size, self.n_queries)
        if d is None:
            which = torch.randint(len(self.distances), shape, generator=generator)
        else:
            which = torch.full(shape, self.query_token(d) - self.n_symbols)
        dist = torch.tensor(self.distances)[which]
        x = torch.cat([symbols, self.n_symbols + which], dim=1)
        y = torch.full_like(x, IGNORE_INDEX)
        y[:, self.seq_len :] = symbols.gather(1, self.seq_len - dist)
        return x.to(device), y.to(device)

    def get_batch(
        self,
        split: str,
        batch_size: int,
        *,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return a batch with random distances (the interface `llmguide.train.train` uses).

        Sequences are fresh random draws, so train and validation differ only by the generator that the
        caller passes; `split` is checked and otherwise unused.

        Args:
            split: `"train"` or `"val"`.
            batch_size: number of sequences.
            generator: CPU `torch.Generator` that draws the batch.
            device: where the returned tensors live.

        Returns:
            `(x, y)` as in `sample`.

        Raises:
            TypeError: `split` is not a string, `batch_size` not an integer, `generator` not a
                `torch.Generator`.
            ValueError: unknown `split` or `batch_size < 1`.
        """
        check_batch_request(split, batch_size, generator)
        return self.sample(batch_size, generator=generator, device=device)


@dataclass(frozen=True)
class Episode:
    """One episode of `ParityEpisodes`: worked examples, a question, and the answer the episode's rule gives.

    Attributes:
        examples: (question, answer) pairs, e.g. `(("4", "blue"), ("7", "red"))`.
        question: the item asked about, e.g. `"2"`.
        answer: the label that the episode's rule gives `question`, e.g. `"blue"`.
    """

    examples: tuple[tuple[str, str], ...]
    question: str
    answer: str


@dataclass(frozen=True)
class ParityEpisodes:
    """Episodes whose answers only the examples in the prompt can tell: a toy for in-context learning.

    Every episode secretly draws two different labels, one for the items at even positions of `items` and one
    for those at odd positions (with the default digits: one label for the even digits, another for the odd
    ones). Its prompt shows worked examples in the Question/Answer layout of `few_shot` and asks about one
    more item. Which label goes with which kind of item changes from episode to episode, so no fixed set of
    weights can know the answer: a model has to read it off an example of the same kind, if the prompt has one.

    The tokenizer is deliberately coarse: each line of the layout is one token, a question line
    (`"Question: 7"`) or an answer line (`"Answer: red"`). A prompt ends with the open answer prefix
    (`"Answer:"`); the token that completes it is one of the answer lines, so the model's answer is the answer
    line it rates most likely. One token per line keeps the sequences short (an 8-shot prompt is 17 tokens),
    so a 2-layer GPT learns the task in seconds on a CPU.

    For example:

    ```python
    import torch
    from llmguide.tasks import ParityEpisodes

    task = ParityEpisodes()
    (episode,) = task.sample(1, n_shots=2, generator=torch.Generator().manual_seed(0))
    print(task.prompt(episode))
    #> Question: 0
    #> Answer: blue
    #> Question: 1
    #> Answer: yellow
    #> Question: 3
    #> Answer:
    print(episode.answer, task.encode(task.prompt(episode)))
    #> yellow [0, 12, 1, 13, 3]
    ```

    Attributes:
        items: the questions, at least 2, each one line; the rule groups them by even and odd position.
        labels: the possible answers, at least 2, each one line.
        max_shots: most examples in a prompt; the context (`block_size`) is `2 * max_shots + 1` tokens.
        question_prefix: opens every question line.
        answer_prefix: opens every answer line.

    Raises:
        TypeError: `items` or `labels` is not a sequence of strings, `max_shots` not an integer, or a prefix
            not a string.
        ValueError: fewer than 2 items or labels, repeated items or labels, `max_shots < 1`, or an item,
            label or prefix that `few_shot` would reject.
    """

    items: tuple[str, ...] = tuple("0123456789")
    labels: tuple[str, ...] = ("red", "green", "blue", "yellow")
    max_shots: int = 8
    question_prefix: str = "Question:"
    answer_prefix: str = "Answer:"

    def __post_init__(self) -> None:
        check_prefixes(self.question_prefix, self.answer_prefix)
        for name in ("items", "labels"):
            values = check_instance(name, getattr(self, name), Sequence, "a sequence of strings")
            values = tuple(values)
            if len(values) < 2 or len(set(values)) != len(values):
                raise ValueError(f"{name} must hold at least 2 different strings, got {values!r}")
            for i, value in enumerate(values):
                check_line(value, f"{name}[{i}]")
            object.__setattr__(self, name, values)
        check_int("max_shots", self.max_shots, minimum=1)

    @property
    def vocab(self) -> tuple[str, ...]:
        """The tokens: one question line per item, then one answer line per label."""
        return tuple(f"{self.question_prefix} {item}" for item in self.items) + tuple(
            f"{self.answer_prefix} {label}" for label in self.labels
        )

    @property
    def vocab_size(self) -> int:
        """Number of token ids: `len(items) + len(labels)`."""
        return len(self.items) + len(self.labels)

    @property
    def block_size(self) -> int:
        """Tokens in the longest prompt (`max_shots` examples and the question): the model's context."""
        return 2 * self.max_shots + 1

    def group(self, item: str) -> int:
        """Return the kind of `item`: 0 for an even position in `items`, 1 for an odd one.

        Args:
            item: one of `items`.

        Returns:
            0 or 1.

        Raises:
            TypeError: `item` is not a string.
            ValueError: `item` is not one of `items`.
        """
        check_instance("item", item, str, "a str")
        if item not in self.items:
            raise ValueError(f"item must be one of {self.items}, got {item!r}")
        return self.items.index(item) % 2

    def prompt(self, episode: Episode) -> str:
        """Return the episode's prompt: `few_shot(episode.examples, episode.question)` with the task's prefixes.

        Args:
            episode: the episode.

        Returns:
            The prompt text, ending with the open answer prefix.

        Raises:
            TypeError: `episode` is not an `Episode`.
            ValueError: its text would corrupt the layout (see `few_shot`).
        """
        check_instance("episode", episode, Episode, "an Episode")
        return few_shot(
            episode.examples,
            episode.question,
            question_prefix=self.question_prefix,
            answer_prefix=self.answer_prefix,
        )

    def encode(self, prompt: str) -> list[int]:
        """Return the token ids of a prompt: one per complete line, the open answer prefix left out.

        Args:
            prompt: text whose lines are lines of `vocab`, ending with a line that is exactly `answer_prefix`.

        Returns:
            One id per line before the open answer prefix.

        Raises:
            TypeError: `prompt` is not a `str`.
            ValueError: the prompt does not end with the open answer prefix, or a line is not in `vocab`.
        """
        check_instance("prompt", prompt, str, "a str")
        *lines, last = prompt.split("\n")
        if last != self.answer_prefix:
            raise ValueError(
                f"prompt must end with the open answer prefix {self.answer_prefix!r} on its own line, "
                f"got last line {last!r}"
            )
        if not lines:
            raise ValueError("prompt has no question line before the open answer prefix")
        vocab = {line: i for i, line in enumerate(self.vocab)}
        for i, line in enumerate(lines):
            if line not in vocab:
                raise ValueError(
                    f"line {i} of the prompt, {line!r}, is not a token: the vocabulary is "
                    f"'{self.question_prefix} <item>' for items {self.items} and "
                    f"'{self.answer_prefix} <label>' for labels {self.labels}"
                )
        return [vocab[line] for line in lines]

    def sample(self, n: int, *, n_shots: int, generator: torch.Generator) -> list[Episode]:
        """Draw `n` fresh episodes with `n_shots` examples each.

        Each episode draws its two labels (one per kind of item, different from each other), a question item,
        and `n_shots` example items uniformly, with repeats, from the items other than the question: the
        question is never answered in its own prompt, only items of its kind may be.

        Args:
            n: number of episodes, `>= 1`.
            n_shots: examples per episode, in [0, max_shots].
            generator: CPU `torch.Generator` that draws everything.

        Returns:
            The episodes.

        Raises:
            TypeError: `n` or `n_shots` is not an integer, or `generator` is not a `torch.Generator`.
            ValueError: `n` or `n_shots` out of range.
        """
        check_int("n", n, minimum=1)
        check_int("n_shots", n_shots, minimum=0, maximum=self.max_shots)
        check_instance("generator", generator, torch.Generator, "a torch.Generator")
        n_items = len(self.items)
        pairs = self._label_pairs(n, generator)
        query = torch.randint(n_items, (n,), generator=generator)
        # the other items are query + 1 .. query + n_items - 1 (mod n_items): uniform over them
        shown = (query[:, None] + torch.randint(1, n_items, (n, n_shots), generator=generator)) % n_items
        episodes = []
        for q, row, pair in zip(query.tolist(), shown.tolist(), pairs.tolist(), strict=True):
            examples = tuple((self.items[i], self.labels[pair[i % 2]]) for i in row)
            episodes.append(Episode(examples, self.items[q], self.labels[pair[q % 2]]))
        return episodes

    def get_batch(
        self,
        split: str,
        batch_size: int,
        *,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return training sequences: `max_shots + 1` examples each, every answer a target.

        A sequence is the token ids of one episode's `max_shots + 1` question and answer lines, without the
        last answer line, so it fits `block_size`. Its items are drawn uniformly with repeats. The target of
        each question line is the id of the answer line that follows it, and `IGNORE_INDEX` (no target)
        everywhere else:
        the answer to the k-th question is learned with k - 1 examples in front of it, so one sequence teaches
        every number of shots from 0 to `max_shots`. The same distribution serves both splits; train and
        validation differ by the generator the caller passes. This is the interface `llmguide.train.train`
        uses.

        Args:
            split: `"train"` or `"val"`.
            batch_size: number of sequences, `>= 1`.
            generator: CPU `torch.Generator` that draws the batch.
            device: where the returned tensors live.

        Returns:
            `(x, y)`, int64 tensors of shape `(batch_size, block_size)`.

        Raises:
            TypeError: `split` is not a string, `batch_size` not an integer, `generator` not a
                `torch.Generator`.
            ValueError: unknown `split` or `batch_size < 1`.
        """
        check_batch_request(split, batch_size, generator)
        n_items = len(self.items)
        pairs = self._label_pairs(batch_size, generator)
        items = torch.randint(n_items, (batch_size, self.max_shots + 1), generator=generator)
        answers = n_items + pairs.gather(1, items % 2)
        seq = torch.stack([items, answers], dim=2).view(batch_size, -1)[:, :-1]
        y = torch.full_like(seq, IGNORE_INDEX)
        y[:, 0::2] = answers
        return seq.to(device), y.to(device)

    def label_logprobs(self, model: torch.nn.Module, prompts: Sequence[str]) -> torch.Tensor:
        """Score each label as the answer to each prompt: the model's log-probabilities over the labels.

        The model's next-token logits after the prompt's last complete line are restricted to the answer
        lines and renormalised, so each row is a distribution over `labels` that sums to 1.

        Args:
            model: a model with `forward(idx) -> (logits, loss)` over this task's vocabulary, e.g. a
                `llmguide.model.GPT` with `vocab_size=task.vocab_size`; its `config.block_size` is its
                context. It is run in eval mode without gradients and put back in its mode.
            prompts: prompts that `encode` accepts.

        Returns:
            Shape `(len(prompts), len(labels))`, natural-log probabilities, on the CPU.

        Raises:
            TypeError: `model` is not a `torch.nn.Module`, or `prompts` is not a sequence of strings.
            ValueError: no prompts, a prompt `encode` rejects, a prompt longer than the model's context, or a
                model whose vocabulary is not the task's (`vocab_size` token ids).
        """
        check_instance("model", model, torch.nn.Module, "a torch.nn.Module")
        if isinstance(prompts, str) or not isinstance(prompts, Sequence):
            raise TypeError(f"prompts must be a sequence of prompt strings, got {type(prompts).__name__}")
        if len(prompts) == 0:
            raise ValueError("prompts must be a non-empty sequence of prompt strings, got an empty one")
        ids = [self.encode(p) for p in prompts]
        config = getattr(model, "config", None)
        model_vocab = getattr(config, "vocab_size", self.vocab_size)
        if model_vocab != self.vocab_size:
            raise ValueError(
                f"model has vocab_size={model_vocab}, but the task has {self.vocab_size} token ids "
                f"({len(self.items)} question lines and {len(self.labels)} answer lines)"
            )
        context = getattr(config, "block_size", self.block_size)
        longest = max(len(row) for row in ids)
        if longest > context:
            raise ValueError(
                f"a prompt is {longest} tokens long, more than the model's context of {context} tokens "
                f"(at most {(context - 1) // 2} examples)"
            )
        # right-pad with token 0: a causal model's logits at a position ignore every later position
        idx = torch.zeros(len(ids), longest, dtype=torch.long)
        for i, row in enumerate(ids):
            idx[i, : len(row)] = torch.tensor(row)
        last = torch.tensor([len(row) - 1 for row in ids])
        logits = eval_logits(model, idx)
        if logits.shape[-1] != self.vocab_size:
            raise ValueError(
                f"model gives {logits.shape[-1]} logits per position, but the task has vocab_size="
                f"{self.vocab_size} token ids"
            )
        answer_logits = logits[torch.arange(len(ids)), last.to(logits.device), len(self.items) :]
        return torch.log_softmax(answer_logits.float(), dim=-1).cpu()

    def answers(self, model: torch.nn.Module, prompts: Sequence[str]) -> list[str]:
        """Return the label the model rates most likely for each prompt (see `label_logprobs`).

        Args:
            model: as in `label_logprobs`.
            prompts: as in `label_logprobs`.

        Returns:
            One label per prompt.

        Raises:
            TypeError, ValueError: as `label_logprobs`.
        """
        best = self.label_logprobs(model, prompts).argmax(dim=-1)
        return [self.labels[i] for i in best.tolist()]

    def accuracy(self, model: torch.nn.Module, episodes: Sequence[Episode]) -> float:
        """Return the fraction of `episodes` whose answer the model rates most likely.

        Args:
            model: as in `label_logprobs`.
            episodes: episodes, e.g. from `sample`.

        Returns:
            A fraction in [0, 1].

        Raises:
            TypeError: `episodes` is not a sequence of `Episode`s; or as `label_logprobs`.
            ValueError: `episodes` is empty; or as `label_logprobs`.
        """
        _check_episodes(episodes)
        got = self.answers(model, [self.prompt(e) for e in episodes])
        return sum(g == e.answer for g, e in zip(got, episodes, strict=True)) / len(episodes)

    def best_accuracy(self, episodes: Sequence[Episode]) -> float:
        """Return the expected accuracy of the best possible reader of the prompts, who knows the rule.

        An example of the question's kind gives the answer. Without one, every label not already taken by the
        other kind is equally likely, so the best guess is right with probability 1 / (number of such labels):
        `1 / len(labels)` with no examples at all.

        Args:
            episodes: episodes, e.g. from `sample`.

        Returns:
            The mean over episodes of the best reader's probability of being right, in [0, 1].

        Raises:
            TypeError: `episodes` is not a sequence of `Episode`s.
            ValueError: `episodes` is empty, or an episode uses an item or label that is not the task's, or
                shows every label (which no episode of this task does).
        """
        _check_episodes(episodes)
        total = 0.0
        for i, e in enumerate(episodes):
            kind = self.group(e.question)
            if any(self.group(q) == kind for q, _ in e.examples):
                total += 1.0
                continue
            shown = {a for _, a in e.examples}
            if not shown <= set(self.labels) or len(shown) >= len(self.labels):
                raise ValueError(
                    f"episodes[{i}] is not an episode of this task: its examples show the labels "
                    f"{sorted(shown)}, the task's labels are {self.labels} and one kind of item has one label"
                )
            total += 1.0 / (len(self.labels) - len(shown))
        return total / len(episodes)

    def _label_pairs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Shape (n, 2): per episode, the label ids of the even and the odd items, different from each other."""
        return torch.rand(n, len(self.labels), generator=generator).argsort(dim=1)[:, :2]


def _check_episodes(episodes: object) -> None:
    """Raise unless `episodes` is a non-empty sequence of `Episode`s."""
    if isinstance(episodes, str) or not isinstance(episodes, Sequence):
        raise TypeError(f"episodes must be a sequence of Episode, got {type(episodes).__name__}")
    if len(episodes) == 0:
        raise ValueError("episodes must hold at least one episode, got an empty sequence")
    for i, e in enumerate(episodes):
        check_instance(f"episodes[{i}]", e, Episode, "an Episode")
