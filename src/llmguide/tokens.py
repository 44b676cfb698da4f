"""Byte-level BPE: train a vocabulary on text, then turn any string into token ids and back.

This is the tokenizer family of GPT-2, GPT-4 and Llama 3 (Sennrich et al. 2016, byte-level as in Radford et al.
2019, section 2.2), written out in pure Python:

- **Bytes first.** A string becomes bytes before anything is merged, so the 256 byte values are the first 256
  tokens and every string has an encoding. Strings are turned into bytes with UTF-8 and Python's
  `"surrogatepass"` error handler, which writes a lone surrogate (U+D800 to U+DFFF, legal in a Python `str`
  but not in UTF-8) as its three-byte pattern instead of failing, so `decode(encode(s)) == s` holds for
  every `str`, the empty one included.
- **Pre-tokenization.** A regular expression first cuts the text into chunks (`PATTERNS`: GPT-2's, or Llama
  3's, which also cuts digit runs into groups of at most three), and merges never cross a chunk's edge.
- **Training.** `train_bpe` merges the most frequent adjacent pair of tokens, again and again, and keeps
  the pair counts up to date incrementally: a merge changes only the counts of the chunks that hold the
  pair. `train_bpe_naive` is the same loop recounting everything after each merge, the reference the fast
  one is tested against.
- **Encoding.** `Tokenizer.encode` applies the merges in the order they were learned, chunk by chunk, and
  caches each distinct chunk's ids. Special tokens (`"<|endoftext|>"`) are matched first and never merged.
- **Files.** `Tokenizer.save` and `Tokenizer.load` use a plain text format: the pattern, the special tokens
  and one merge per line.
- **The production library.** `to_huggingface` builds the same tokenizer in Hugging Face `tokenizers` (an
  optional dependency), whose ids the tests compare with these.
"""

from __future__ import annotations

import codecs
import heapq
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

import regex

from llmguide.validate import check_bool, check_instance, check_int

__all__ = [
    "PATTERNS",
    "Tokenizer",
    "bytes_to_unicode",
    "text_to_bytes",
    "to_huggingface",
    "train_bpe",
    "train_bpe_naive",
    "udhr_article1",
]

#: Pre-tokenization patterns by name. `"gpt2"`: GPT-2's (the `encoder.py` of openai/gpt-2): contractions, an
#: optional space and a run of letters, of digits, or of other symbols, and whitespace. `"llama3"`: Llama 3's
#: (the `pat_str` of meta-llama/llama3's `tokenizer.py`, also GPT-4's cl100k): case-insensitive contractions,
#: digits in groups of at most three, and newlines kept apart from other whitespace.
PATTERNS: dict[str, str] = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "llama3": (
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
    ),
}

_ERRORS = "llmguide.surrogatepass_replace"
_FORMAT = "llmguide-bpe 1"
_CACHE_LIMIT = 1 << 17  # distinct chunks kept by Tokenizer.encode before the cache is emptied


def _surrogatepass_replace(error: UnicodeError) -> tuple[str, int]:
    """Decode a lone surrogate's three bytes back to it; replace any other invalid byte with U+FFFD."""
    try:
        return codecs.lookup_error("surrogatepass")(error)
    except UnicodeError:
        return "\ufffd", error.end  # type: ignore[attr-defined]  # as the "replace" handler does


codecs.register_error(_ERRORS, _surrogatepass_replace)


def text_to_bytes(text: str) -> bytes:
    """Return the bytes a tokenizer sees for `text`: UTF-8, with lone surrogates written as their 3 bytes.

    UTF-8 has no encoding for U+D800 to U+DFFF, but a Python `str` may hold them (from `os.fsdecode`, or
    JSON's `"\\ud800"`). The `"surrogatepass"` handler writes them as UTF-8 would write any other code point
    of that range, so every `str` has bytes and `bytes.decode("utf-8", "surrogatepass")` gives it back.

    ```python
    from llmguide.tokens import text_to_bytes

    print(text_to_bytes("é€"), text_to_bytes("\\ud800"))
    #> b'\\xc3\\xa9\\xe2\\x82\\xac' b'\\xed\\xa0\\x80'
    ```

    Args:
        text: any string.

    Returns:
        Its bytes: 1 per ASCII character, 2 to 4 per other character.

    Raises:
        TypeError: `text` is not a `str`.
    """
    check_instance("text", text, str, "a str")
    return text.encode("utf-8", "surrogatepass")


def _compile(pattern: str) -> regex.Pattern[str]:
    check_instance("pattern", pattern, str, "a pattern name or a regular expression (a str)")
    try:
        return regex.compile(PATTERNS.get(pattern, pattern))
    except regex.error as exc:
        raise ValueError(
            f"pattern must be one of {sorted(PATTERNS)} or a valid regular expression, got {pattern!r}: {exc}"
        ) from None


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids`, left to right, with `new_id`."""
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == a and i + 1 < n and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _check_specials(special_tokens: Iterable[str]) -> list[str]:
    if isinstance(special_tokens, str) or not isinstance(special_tokens, Iterable):
        raise TypeError(f"special_tokens must be a sequence of strings, got {type(special_tokens).__name__}")
    specials = list(special_tokens)
    for s in specials:
        if not isinstance(s, str) or not s:
            raise TypeError(f"special_tokens must hold non-empty strings, got {s!r}")
    if len(set(specials)) != len(specials):
        raise ValueError(f"special_tokens must be distinct, got {specials}")
    return specials


class Tokenizer:
    """A byte-level BPE tokenizer: 256 byte tokens, then one token per merge, then the special tokens.

    Token `256 + i` is the `i`-th merge `merges[i] = (a, b)`: the bytes of `a` followed by those of `b`.
    Encoding applies the merges in that order (the earliest learned first) within each chunk that the
    pattern cuts; special tokens are matched in the text before that and never merged.

    ```python
    from llmguide.tokens import Tokenizer

    tok = Tokenizer([(104, 105), (32, 256)], special_tokens=["<|end|>"])  # "hi", then " hi"
    ids = tok.encode("hi hi<|end|>")
    print(ids, [tok.vocab[i] for i in ids], tok.decode(ids))
    #> [256, 257, 258] [b'hi', b' hi', b'<|end|>'] hi hi<|end|>
    ```

    Args:
        merges: the learned pairs in order; each id must be below `256 + ` its own index.
        pattern: a name of `PATTERNS` (`"gpt2"`, `"llama3"`) or a regular expression for the `regex`
            package that matches every character of any text (the chunks are what it finds).
        special_tokens: strings that become single tokens, with ids after the merges, in this order.

    Raises:
        TypeError: `merges` is not a sequence of pairs of ints, or `special_tokens` not a sequence of strings.
        ValueError: a merge uses an id that does not exist yet, the pattern does not compile, or the special
            tokens repeat.
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]],
        *,
        pattern: str = "gpt2",
        special_tokens: Iterable[str] = (),
    ) -> None:
        if isinstance(merges, (str, bytes)) or not isinstance(merges, Sequence):
            raise TypeError(f"merges must be a sequence of (int, int) pairs, got {type(merges).__name__}")
        self.merges: list[tuple[int, int]] = []
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        for i, pair in enumerate(merges):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"merges[{i}] must be a pair of token ids, got {pair!r}")
            a = check_int(f"merges[{i}][0]", pair[0], minimum=0, maximum=255 + i)
            b = check_int(f"merges[{i}][1]", pair[1], minimum=0, maximum=255 + i)
            self.merges.append((a, b))
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.pattern: str = PATTERNS.get(pattern, pattern)
        self._regex = _compile(pattern)
        specials = _check_specials(special_tokens)
        self.special_tokens: dict[str, int] = {s: len(self.vocab) + i for i, s in enumerate(specials)}
        self.vocab += [text_to_bytes(s) for s in specials]
        self._ranks = {pair: 256 + i for i, pair in enumerate(self.merges)}
        by_length = sorted(specials, key=len, reverse=True)  # the longest first, when one contains another
        self._special_regex = (
            regex.compile("(" + "|".join(regex.escape(s) for s in by_length) + ")") if specials else None
        )
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Number of token ids: 256 bytes, the merges and the special tokens."""
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, specials={len(self.special_tokens)})"

    def split(self, text: str) -> list[str]:
        """Cut `text` into the pattern's chunks (special tokens are not treated apart here).

        ```python
        from llmguide.tokens import Tokenizer

        print(Tokenizer([]).split("It's 2026, ok?"))
        #> ['It', "'s", ' 2026', ',', ' ok', '?']
        ```

        Args:
            text: any string.

        Returns:
            The chunks, in order; they concatenate back to `text`.

        Raises:
            TypeError: `text` is not a `str`.
        """
        check_instance("text", text, str, "a str")
        return self._regex.findall(text)

    def _encode_chunk(self, ids: list[int]) -> list[int]:
        """Apply the merges to one chunk's byte ids, the earliest-learned pair first."""
        ranks = self._ranks
        never = len(self.vocab)
        while len(ids) >= 2:
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, never))
            new_id = ranks.get(pair)
            if new_id is None:
                break
            ids = _merge(ids, pair, new_id)
        return ids

    def _encode_ordinary(self, text: str, out: list[int]) -> None:
        cache = self._cache
        for chunk in self._regex.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(list(chunk.encode("utf-8", "surrogatepass")))
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[chunk] = ids
            out += ids

    def encode(self, text: str, *, allow_special: bool = True) -> list[int]:
        """Return the token ids of `text`.

        ```python
        from llmguide.tokens import Tokenizer

        tok = Tokenizer([(104, 105)], special_tokens=["<|end|>"])
        print(tok.encode("hi<|end|>"), len(tok.encode("hi<|end|>", allow_special=False)))
        #> [256, 257] 8
        ```

        Args:
            text: any string, including lone surrogates, control characters and the empty string.
            allow_special: match the special tokens in `text`; False encodes them as ordinary text.

        Returns:
            Token ids in `[0, vocab_size)`; `decode` of them gives back `text`.

        Raises:
            TypeError: `text` is not a `str` or `allow_special` not a bool.
        """
        check_instance("text", text, str, "a str")
        check_bool("allow_special", allow_special)
        out: list[int] = []
        if self._special_regex is None or not allow_special:
            self._encode_ordinary(text, out)
            return out
        for i, part in enumerate(self._special_regex.split(text)):
            if i % 2:  # the split's captured separators: the special tokens
                out.append(self.special_tokens[part])
            elif part:
                self._encode_ordinary(part, out)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """Return the text of `ids`: their bytes, decoded as `text_to_bytes` encoded them.

        Bytes that are not valid UTF-8 (a model can emit half a character) become U+FFFD, so any ids decode.

        ```python
        from llmguide.tokens import Tokenizer

        tok = Tokenizer([])
        print(ascii(tok.decode(tok.encode("a\\ud800b"))), ascii(tok.decode([0xE2, 0x82, 0x41])))
        #> 'a\\ud800b' '\\ufffdA'
        ```

        Args:
            ids: token ids in `[0, vocab_size)`.

        Returns:
            The text.

        Raises:
            TypeError: `ids` is not a sequence of ints.
            ValueError: an id is outside `[0, vocab_size)`.
        """
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"ids must be a sequence of integer token ids, got {type(ids).__name__}")
        ids = list(ids)
        vocab = self.vocab
        try:
            data = b"".join([vocab[i] for i in ids])
        except (IndexError, TypeError):
            for j, i in enumerate(ids):
                check_int(f"ids[{j}]", i, minimum=0, maximum=len(vocab) - 1)
            raise
        bad = [i for i in ids if i < 0]  # a negative index is valid Python, not a valid id
        if bad:
            raise ValueError(f"ids must be in [0, {len(vocab)}), got {bad[0]}")
        return data.decode("utf-8", _ERRORS)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tokenizer to a plain text file that `Tokenizer.load` reads back.

        The format: a first line `llmguide-bpe 1`; `pattern` and the pattern as a JSON string; `specials N`
        and N JSON strings, one a line; `merges M` and M lines `a b`, the ids of each merge.

        Args:
            path: the file to write (UTF-8).

        Raises:
            TypeError: `path` is not a string or path.
        """
        check_instance("path", path, (str, os.PathLike), "a file path")
        lines = [_FORMAT, "pattern " + json.dumps(self.pattern), f"specials {len(self.special_tokens)}"]
        lines += [json.dumps(s) for s in self.special_tokens]
        lines += [f"merges {len(self.merges)}"] + [f"{a} {b}" for a, b in self.merges]
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Read a tokenizer written by `Tokenizer.save`.

        ```python
        import tempfile
        from pathlib import Path
        from llmguide.tokens import Tokenizer

        tok = Tokenizer([(104, 105)], pattern="llama3", special_tokens=["<|end|>"])
        path = Path(tempfile.mkdtemp()) / "tok.txt"
        tok.save(path)
        print(path.read_text().splitlines()[-1], Tokenizer.load(path).encode("hi<|end|>"))
        #> 104 105 [256, 257]
        ```

        Args:
            path: a file written by `save`.

        Returns:
            The tokenizer.

        Raises:
            TypeError: `path` is not a string or path.
            ValueError: the file is not in the format `save` writes (the message gives the line).
        """
        check_instance("path", path, (str, os.PathLike), "a file path")
        with open(path, encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
        pos = 0

        def take(prefix: str) -> str:
            nonlocal pos
            if pos >= len(lines) or not lines[pos].startswith(prefix):
                got = lines[pos] if pos < len(lines) else "the end of the file"
                raise ValueError(f"{path}: line {pos + 1} must start with {prefix!r}, got {got!r}")
            pos += 1
            return lines[pos - 1][len(prefix) :]

        try:
            take(_FORMAT)
            pattern = json.loads(take("pattern "))
            specials = [json.loads(take("")) for _ in range(int(take("specials ")))]
            merges = [tuple(int(x) for x in take("").split(" ")) for _ in range(int(take("merges ")))]
        except (json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{path} is not a tokenizer file written by Tokenizer.save: {exc}") from None
        if lines[pos:] != [""]:
            raise ValueError(f"{path}: unexpected text after the merges, at line {pos + 1}")
        return cls(merges, pattern=pattern, special_tokens=specials)  # type: ignore[arg-type]


def _check_training(text: Any, vocab_size: Any, special_tokens: Any) -> tuple[int, list[str]]:
    check_instance("text", text, str, "a str")
    specials = _check_specials(special_tokens)
    vocab_size = check_int("vocab_size", vocab_size, minimum=256 + len(specials))
    return vocab_size, specials


def train_bpe(
    text: str, vocab_size: int, *, pattern: str = "gpt2", special_tokens: Iterable[str] = ()
) -> Tokenizer:
    """Learn `vocab_size - 256 - len(special_tokens)` merges from `text`, updating pair counts incrementally.

    Each step merges the most frequent adjacent pair (ties: the smallest pair of ids). The text is cut into
    chunks by `pattern` and each distinct chunk is counted once with its frequency; a merge then recounts only
    the chunks that hold the pair, and a heap finds the next most frequent pair. The result is identical to
    `train_bpe_naive`, which recounts everything after every merge.

    ```python
    from llmguide.tokens import train_bpe

    tok = train_bpe("low lower lowest " * 10, vocab_size=256 + 4)
    print([tok.vocab[i] for i in range(256, tok.vocab_size)])
    #> [b'lo', b'low', b' low', b' lowe']
    ```

    Args:
        text: the training text.
        vocab_size: the vocabulary size wanted, bytes, merges and special tokens included; fewer merges are
            learned if the text runs out of pairs.
        pattern: a name of `PATTERNS` or a regular expression (see `Tokenizer`).
        special_tokens: strings given their own ids after the merges; they are not looked for in `text`.

    Returns:
        The trained `Tokenizer`.

    Raises:
        TypeError: `text` is not a `str`, `vocab_size` not an int, or `special_tokens` not strings.
        ValueError: `vocab_size` below `256 + len(special_tokens)`, or a pattern that does not compile.
    """
    vocab_size, specials = _check_training(text, vocab_size, special_tokens)
    chunks = Counter(_compile(pattern).findall(text))
    words = [list(text_to_bytes(c)) for c in chunks]
    freqs = list(chunks.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that may hold it
    for i, (w, f) in enumerate(zip(words, freqs, strict=True)):
        for pair in pairwise(w):
            counts[pair] += f
            where[pair].add(i)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < vocab_size - 256 - len(specials) and heap:
        neg, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -neg:  # a stale entry: the count changed since it was pushed
            continue
        new_id = 256 + len(merges)
        merges.append(pair)
        touched: set[tuple[int, int]] = set()
        for i in where.pop(pair):
            old = words[i]
            new = _merge(old, pair, new_id)
            if len(new) == len(old):
                continue
            f = freqs[i]
            for p in pairwise(old):
                counts[p] -= f
                touched.add(p)
            for p in pairwise(new):
                counts[p] += f
                where[p].add(i)
                touched.add(p)
            words[i] = new
        for p in touched:
            c = counts[p]
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                del counts[p]
    return Tokenizer(merges, pattern=pattern, special_tokens=specials)


def train_bpe_naive(
    text: str, vocab_size: int, *, pattern: str = "gpt2", special_tokens: Iterable[str] = ()
) -> Tokenizer:
    """The textbook BPE loop: after every merge, count every pair of the whole text again.

    The reference for `train_bpe` (same merges, same tie rule), and the baseline of
    `benchmarks/tokens.py`. Its cost grows as merges times text length.

    ```python
    from llmguide.tokens import train_bpe, train_bpe_naive

    text = "low lower lowest newer newest " * 5
    print(train_bpe_naive(text, 270).merges == train_bpe(text, 270).merges)
    #> True
    ```

    Args:
        text: the training text.
        vocab_size: as for `train_bpe`.
        pattern: as for `train_bpe`.
        special_tokens: as for `train_bpe`.

    Returns:
        The trained `Tokenizer`.

    Raises:
        TypeError: as for `train_bpe`.
        ValueError: as for `train_bpe`.
    """
    vocab_size, specials = _check_training(text, vocab_size, special_tokens)
    words = [list(text_to_bytes(c)) for c in _compile(pattern).findall(text)]
    merges: list[tuple[int, int]] = []
    while len(merges) < vocab_size - 256 - len(specials):
        counts: Counter[tuple[int, int]] = Counter()
        for w in words:
            counts.update(pairwise(w))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        words = [_merge(w, pair, 255 + len(merges)) for w in words]
    return Tokenizer(merges, pattern=pattern, special_tokens=specials)


def udhr_article1() -> dict[str, str]:
    """Return Article 1 of the Universal Declaration of Human Rights in eleven languages, by ISO 639-1 code.

    The same sentence in Latin, Cyrillic, Greek, Arabic, Devanagari, Han, kana and Hangul scripts, shipped in
    the package (`llmguide/corpus/udhr_article1.tsv`; its sources and licence are in the corpus's README).

    ```python
    from llmguide.tokens import udhr_article1

    texts = udhr_article1()
    print(list(texts), texts["en"][:31])
    #> ['en', 'fr', 'es', 'de', 'ru', 'el', 'ar', 'hi', 'zh', 'ja', 'ko'] All human beings are born free
    ```

    Returns:
        A dict from language code to the article's text, English first.
    """
    text = resources.files("llmguide").joinpath("corpus", "udhr_article1.tsv").read_text(encoding="utf-8")
    return dict(line.split("\t", 1) for line in text.splitlines())


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character, the alphabet of byte-level BPE files.

    Printable Latin-1 bytes map to themselves; the others (controls, space, ...) to the characters from
    U+0100 on, in order. Hugging Face `tokenizers` writes vocabularies and merges in this alphabet.

    ```python
    from llmguide.tokens import bytes_to_unicode

    print(bytes_to_unicode()[ord("a")], bytes_to_unicode()[ord(" ")], len(set(bytes_to_unicode().values())))
    #> a Ġ 256
    ```

    Returns:
        A dict from each of the 256 byte values to a distinct one-character string.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def to_huggingface(tokenizer: Tokenizer) -> Any:
    """Build the same tokenizer in Hugging Face `tokenizers` (Rust): same vocabulary, merges, pattern, ids.

    The vocabulary and merges are written in GPT-2's byte alphabet (`bytes_to_unicode`); the pattern becomes
    the byte-level pre-tokenizer (`"gpt2"`) or a `Split` before it (any other pattern); the special tokens
    are added tokens with the same ids. Needs `pip install tokenizers`.

    ```python
    from llmguide.tokens import to_huggingface, train_bpe

    tok = train_bpe("low lower lowest " * 10, vocab_size=260)
    print(to_huggingface(tok).encode("lowest").ids == tok.encode("lowest"))
    #> True
    ```

    Args:
        tokenizer: a `Tokenizer`.

    Returns:
        A `tokenizers.Tokenizer`.

    Raises:
        TypeError: `tokenizer` is not a `Tokenizer`.
        ValueError: two tokens have the same bytes (a `tokenizers` vocabulary maps each string to one id).
        ImportError: `tokenizers` is not installed.
    """
    check_instance("tokenizer", tokenizer, Tokenizer, "a llmguide.tokens.Tokenizer")
    from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    alphabet = bytes_to_unicode()
    n = 256 + len(tokenizer.merges)
    names = ["".join(alphabet[b] for b in tokenizer.vocab[i]) for i in range(n)]
    vocab = {name: i for i, name in enumerate(names)}
    if len(vocab) != n:
        raise ValueError("two tokens have the same bytes; tokenizers cannot hold this vocabulary")
    hf = HFTokenizer(models.BPE(vocab=vocab, merges=[(names[a], names[b]) for a, b in tokenizer.merges]))
    byte_level = pre_tokenizers.ByteLevel(
        add_prefix_space=False, use_regex=tokenizer.pattern == PATTERNS["gpt2"]
    )
    if tokenizer.pattern == PATTERNS["gpt2"]:
        hf.pre_tokenizer = byte_level
    else:
        split = pre_tokenizers.Split(Regex(tokenizer.pattern), behavior="isolated", invert=False)
        hf.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in tokenizer.special_tokens])
    return hf
