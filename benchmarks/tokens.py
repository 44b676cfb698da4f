"""Speed of `llmguide.tokens`: training and encoding, against the textbook loops and Hugging Face `tokenizers`.

Run (from the repository root):

    .venv/bin/python benchmarks/tokens.py              # the chapter's tokenizer: 1,024 entries, the corpus
    .venv/bin/python benchmarks/tokens.py --vocab 512  # a smaller one (the naive trainer is much faster)

**Training** the chapter's tokenizer (GPT-2 pattern, `--vocab` entries) on the shipped corpus, three ways in
one process: `train_bpe` (each distinct chunk counted once, pair counts updated incrementally, a heap for the
most frequent pair), `train_bpe_naive` (recount every pair of the text after every merge), and `tokenizers`'
`BpeTrainer` (Rust, several threads) with the same pattern and size. **Encoding** the corpus repeated to
`--megabytes` MB: `Tokenizer.encode` (a chunk cache, then the earliest-merge-first loop on each new chunk;
after the first copy of the corpus every chunk is in the cache, so the corpus once from an empty cache is
printed too), the same loop with no cache, and `tokenizers`' `encode` of the same text with our merges (one thread, ids
checked equal). CPU times are the process's user + system time over the call (`time.process_time`), the
median of `--repeats`; the naive trainer runs once. Ratios are against `train_bpe` / `Tokenizer.encode`.
Targets (issue 22): training under 5 s, encoding at least 1 MB/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

from llmguide.data import load_corpus
from llmguide.tokens import PATTERNS, Tokenizer, to_huggingface, train_bpe, train_bpe_naive


def cpu_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median CPU time (user + system, all threads of this process) of `fn()`, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return statistics.median(times), result


def hf_train(text: str, vocab: int) -> object:
    """`tokenizers`' own BPE trainer with GPT-2's byte-level pre-tokenizer."""
    from tokenizers import Tokenizer as HF
    from tokenizers import models, pre_tokenizers, trainers

    hf = HF(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    hf.train_from_iterator([text], trainer=trainer)
    return hf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=1024, help="vocabulary size (default 1024)")
    parser.add_argument("--megabytes", type=float, default=2.0, help="text to encode, in MB (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per row (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers' encode on one thread, like ours
    corpus = load_corpus()
    n_bytes = len(corpus.encode())
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"training: {n_bytes:,} bytes of corpus, vocabulary {args.vocab}, GPT-2 pattern")

    ours, tok = cpu_seconds(lambda: train_bpe(corpus, args.vocab), args.repeats)
    naive, slow = cpu_seconds(lambda: train_bpe_naive(corpus, args.vocab), 1)
    assert isinstance(tok, Tokenizer) and isinstance(slow, Tokenizer) and slow.merges == tok.merges
    rows = [("train_bpe (incremental)", ours), ("train_bpe_naive (recount)", naive)]
    try:
        rust, _ = cpu_seconds(lambda: hf_train(corpus, args.vocab), args.repeats)
        rows.append(("tokenizers BpeTrainer (Rust)", rust))
    except ImportError:
        print("(tokenizers is not installed: pip install tokenizers)")
    print("| trainer | CPU s | x train_bpe |\n| --- | --- | --- |")
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {t / ours:.2f} |")

    reps = max(1, round(args.megabytes * 1e6 / n_bytes))
    text = corpus * reps
    mb = len(text.encode()) / 1e6
    print(f"\nencoding: the corpus x {reps} ({mb:.2f} MB), the tokenizer above")

    def cached() -> list[int]:
        fresh = Tokenizer(tok.merges, pattern="gpt2")  # an empty cache each call
        return fresh.encode(text)

    def no_cache() -> list[int]:
        out: list[int] = []
        for chunk in fresh_regex.findall(text):
            out += tok._encode_chunk(list(chunk.encode("utf-8", "surrogatepass")))
        return out

    import regex

    fresh_regex = regex.compile(PATTERNS["gpt2"])
    t_ours, ids = cpu_seconds(cached, args.repeats)
    t_plain, plain_ids = cpu_seconds(no_cache, 1)
    assert plain_ids == ids
    rows = [("Tokenizer.encode (chunk cache)", t_ours), ("no cache", t_plain)]
    t_once, _ = cpu_seconds(lambda: Tokenizer(tok.merges, pattern="gpt2").encode(corpus), args.repeats)
    once_mb = n_bytes / 1e6
    print(f"(the corpus once, empty cache: {t_once:.3f} s, {once_mb / t_once:.2f} MB/s)")
    try:
        hf = to_huggingface(tok)
        t_hf, enc = cpu_seconds(lambda: hf.encode(text), args.repeats)
        assert enc.ids == ids  # type: ignore[attr-defined]
        rows.append(("tokenizers encode (Rust, 1 thread)", t_hf))
    except ImportError:
        pass
    print("| encoder | CPU s | MB/s | x Tokenizer.encode |\n| --- | --- | --- | --- |")
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {mb / t:.2f} | {t / t_ours:.2f} |")
    print(f"\ntargets: training {ours:.2f} s (< 5 s), encoding {mb / t_ours:.2f} MB/s (>= 1 MB/s)")


if __name__ == "__main__":
    main()
