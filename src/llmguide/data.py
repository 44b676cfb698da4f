"""Text in, token ids out: a byte-level tokenizer, the shipped corpus, and batching.

- **Tokenizer.** `encode` turns text into its UTF-8 bytes, one token per byte, so the vocabulary has exactly
  256 entries (`VOCAB_SIZE`) and every string round-trips: `decode(encode(s)) == s`. Real LLMs merge frequent
  byte sequences into larger tokens (BPE); bytes keep this guide free of a trained vocabulary.
- **Corpus.** `load_corpus()` returns a small English text shipped inside the package
  (`llmguide/corpus/corpus.txt`, read with `importlib.resources`; nothing is downloaded). It was written for
  this project and is released under the project's MIT licence; `llmguide/corpus/README.md` says more.
- **Batches.** `TextData` holds train and validation token streams; `TextData.get_batch` cuts random
  contiguous windows from one of them and returns inputs `x` and targets `y`, the same windows shifted by one
  token. That is the `get_batch(split, batch_size, *, generator, device)` method that
  `llmguide.train.train` draws its batches from; the synthetic tasks of `llmguide.tasks` have it too.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import torch

from llmguide.validate import (
    check_batch_request,
    check_instance,
    check_int,
    check_real,
    check_token_ids,
    parameter_error,
)

VOCAB_SIZE = 256
"""Number of distinct tokens of the byte-level tokenizer: one per byte value."""


def encode(text: str) -> list[int]:
    """Return the token ids of `text`: its UTF-8 bytes, each an integer in [0, 256).

    For example:

    ```python
    from llmguide.data import decode, encode

    ids = encode("héllo")
    print(ids)
    #> [104, 195, 169, 108, 108, 111]
    print(decode(ids))
    #> héllo
    ```

    Args:
        text: any string that can be written as UTF-8 (no lone surrogates).

    Returns:
        One token id per byte of the UTF-8 encoding: `len(encode(text))` is the text's size in bytes.

    Raises:
        TypeError: `text` is not a `str`.
        ValueError: `text` holds a character that UTF-8 cannot encode (a lone surrogate).
    """
    check_instance("text", text, str, "a str")
    try:
        return list(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise parameter_error(
            ValueError, f"text must be encodable as UTF-8: {exc.reason} at index {exc.start}", "text"
        ) from None


def decode(ids: Sequence[int] | torch.Tensor) -> str:
    """Return the text whose UTF-8 bytes are `ids` (the inverse of `encode`).

    A model can emit byte sequences that are not valid UTF-8 (half of a two-byte letter, say); those bytes
    become U+FFFD, the replacement character, instead of raising, so generated text can always be printed.

    For example:

    ```python
    import torch
    from llmguide.data import decode

    print(decode(torch.tensor([72, 105, 33])))
    #> Hi!
    print(decode([72, 195]))  # 195 starts a two-byte character that never ends
    #> H\ufffd
    ```

    Args:
        ids: token ids in [0, 256), as a sequence of ints or a 1-D integer tensor.

    Returns:
        The decoded text.

    Raises:
        TypeError: `ids` is not a sequence or a tensor, or holds something other than integers (a float such as
            72.9 is refused, not truncated).
        ValueError: an id is outside [0, 256), or `ids` is a tensor with more than one dimension.
    """
    if isinstance(ids, torch.Tensor):
        if ids.dtype == torch.bool or ids.is_floating_point() or ids.is_complex():
            raise TypeError(f"ids must hold integer token ids, got a tensor of dtype {ids.dtype}")
        if ids.dim() > 1:
            raise ValueError(f"ids must be a 1-D tensor, got shape {tuple(ids.shape)}")
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be a sequence of integer token ids or a tensor, got {type(ids).__name__}")
    values = list(ids)
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"ids must hold integer token ids, got {type(value).__name__} {value!r} at index {i}"
            )
        if not 0 <= value < VOCAB_SIZE:
            raise ValueError(f"ids must be in [0, {VOCAB_SIZE}), got {value} at index {i}")
    return bytes(int(v) for v in values).decode("utf-8", errors="replace")


def load_corpus() -> str:
    """Return the text of the corpus shipped with the package (about 58 kB of English prose).

    The text was written for this project and is released under the project's MIT licence; see
    `llmguide/corpus/README.md`. It is read from the installed package, never downloaded.

    For example:

    ```python
    from llmguide.data import encode, load_corpus

    text = load_corpus()
    print(len(encode(text)) > 50_000)
    #> True
    ```

    Returns:
        The whole corpus as one string.
    """
    return resources.files("llmguide").joinpath("corpus", "corpus.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class TextData:
    """Train and validation token streams, cut into windows of `block_size` tokens for training.

    Attributes:
        train: 1-D tensor of token ids (int64) to train on.
        val: 1-D tensor of token ids (int64) held out for the validation loss.
        block_size: tokens per training window; each stream must hold at least `block_size + 1` tokens.
        vocab_size: number of distinct token ids a model must accept (256 for bytes).

    Raises:
        TypeError: `block_size` or `vocab_size` is not an integer, or a stream is not an int64 tensor.
        ValueError: `block_size` or `vocab_size` is below 1, a stream is not 1-D, or a stream is shorter than
            `block_size + 1` tokens.
    """

    train: torch.Tensor
    val: torch.Tensor
    block_size: int
    vocab_size: int = VOCAB_SIZE

    def __post_init__(self) -> None:
        check_int("block_size", self.block_size, minimum=1)
        check_int("vocab_size", self.vocab_size, minimum=1)
        for name in ("train", "val"):
            tokens = check_instance(
                name, getattr(self, name), torch.Tensor, "a 1-D int64 tensor of token ids"
            )
            if tokens.dtype != torch.long:
                raise TypeError(f"{name} must be a 1-D int64 tensor of token ids, got dtype {tokens.dtype}")
            if tokens.dim() != 1:
                raise ValueError(f"{name} must be a 1-D tensor of token ids, got shape {tuple(tokens.shape)}")
            if tokens.numel() < self.block_size + 1:
                raise ValueError(
                    f"{name} holds {tokens.numel()} tokens, fewer than block_size + 1 = {self.block_size + 1}"
                )
            # Ids are checked here, once, where they enter: the model checks batches without a host sync.
            check_token_ids(name, tokens, vocab_size=self.vocab_size, dim=1)

    def get_batch(
        self,
        split: str,
        batch_size: int,
        *,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `batch_size` random windows `x` and the same windows shifted one token later, `y`.

        Window starts are drawn uniformly with `generator`, so a seeded generator gives the same batches.

        For example:

        ```python
        import torch
        from llmguide.data import TextData, decode, encode

        tokens = torch.tensor(encode("abcdefghij"))
        data = TextData(train=tokens, val=tokens, block_size=4)
        x, y = data.get_batch("train", 2, generator=torch.Generator().manual_seed(0))
        print(decode(x[0]), decode(y[0]))
        #> cdef defg
        ```

        Args:
            split: `"train"` or `"val"`.
            batch_size: number of windows (rows).
            generator: a CPU `torch.Generator` that picks the window starts.
            device: where the returned tensors live.

        Returns:
            `(x, y)`, two int64 tensors of shape `(batch_size, block_size)` with `y[:, :-1] == x[:, 1:]`.

        Raises:
            TypeError: `split` is not a string, `batch_size` not an integer, `generator` not a
                `torch.Generator`.
            ValueError: unknown `split` or `batch_size < 1`.
        """
        check_batch_request(split, batch_size, generator)
        tokens = getattr(self, split)
        starts = torch.randint(tokens.numel() - self.block_size, (batch_size,), generator=generator)
        offsets = torch.arange(self.block_size + 1)
        windows = tokens[starts[:, None] + offsets]
        return windows[:, :-1].to(device), windows[:, 1:].to(device)


def split_tokens(tokens: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a token stream into its first part (train) and last `val_fraction` (validation).

    The split is contiguous, not shuffled, so no validation window overlaps a training window.

    For example:

    ```python
    import torch
    from llmguide.data import split_tokens

    train, val = split_tokens(torch.arange(10), val_fraction=0.2)
    print(train.tolist(), val.tolist())
    #> [0, 1, 2, 3, 4, 5, 6, 7] [8, 9]
    ```

    Args:
        tokens: 1-D tensor of token ids.
        val_fraction: share of the tokens held out, in (0, 1).

    Returns:
        `(train, val)`.

    Raises:
        TypeError: `tokens` is not a tensor or `val_fraction` not a number.
        ValueError: `val_fraction` outside (0, 1) or `tokens` not 1-D.
    """
    check_real("val_fraction", val_fraction, minimum=0, maximum=1, min_open=True, max_open=True)
    check_instance("tokens", tokens, torch.Tensor, "a 1-D tensor of token ids")
    if tokens.dim() != 1:
        raise ValueError(f"tokens must be a 1-D tensor, got shape {tuple(tokens.shape)}")
    n_train = round(tokens.numel() * (1 - val_fraction))
    return tokens[:n_train], tokens[n_train:]


def corpus_data(block_size: int = 128, val_fraction: float = 0.1) -> TextData:
    """Return the shipped corpus as byte tokens, split into train and validation, ready for `get_batch`.

    For example:

    ```python
    from llmguide.data import corpus_data

    data = corpus_data(block_size=64)
    print(data.vocab_size, data.train.numel() > 8 * data.val.numel())
    #> 256 True
    ```

    Args:
        block_size: tokens per training window.
        val_fraction: share of the corpus (its end) held out for validation, in (0, 1).

    Returns:
        A `TextData` with `vocab_size == 256`.

    Raises:
        TypeError: `block_size` is not an integer or `val_fraction` not a number.
        ValueError: `block_size` is below 1 or too long for the validation part, or `val_fraction` is outside
            (0, 1).
    """
    tokens = torch.tensor(encode(load_corpus()), dtype=torch.long)
    train, val = split_tokens(tokens, val_fraction)
    return TextData(train=train, val=val, block_size=block_size)
