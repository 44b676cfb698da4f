"""llmguide.tokens against independent truths: the textbook loop, Hugging Face `tokenizers`, and round trips.

- Training: the incremental trainer learns exactly the merges of the naive loop that recounts everything.
- Encoding: a brute-force reference (apply every merge in order to the whole chunk) gives the same ids, and
  Hugging Face `tokenizers` (Rust), loaded with our merges, gives the same ids on the shipped corpus and on
  the eleven languages.
- Round trip: `decode(encode(s)) == s` for generated strings, lone surrogates and controls included.
"""

from __future__ import annotations

import string

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from llmguide.data import load_corpus
from llmguide.tokens import (
    PATTERNS,
    Tokenizer,
    _merge,
    bytes_to_unicode,
    text_to_bytes,
    to_huggingface,
    train_bpe,
    train_bpe_naive,
    udhr_article1,
)

CORPUS = load_corpus()
SPECIAL = "<|endoftext|>"


@pytest.fixture(scope="module")
def corpus_tokenizers() -> dict[str, Tokenizer]:
    return {
        name: train_bpe(CORPUS, 768, pattern=name, special_tokens=[SPECIAL]) for name in ("gpt2", "llama3")
    }


def reference_encode(tok: Tokenizer, text: str) -> list[int]:
    """Brute force: apply every merge, in the order learned, to each whole chunk."""
    out: list[int] = []
    for chunk in regex.findall(tok.pattern, text):
        ids = list(text_to_bytes(chunk))
        for i, pair in enumerate(tok.merges):
            ids = _merge(ids, pair, 256 + i)
        out += ids
    return out


# --- training ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["gpt2", "llama3"])
def test_incremental_training_equals_the_naive_loop(pattern: str) -> None:
    text = CORPUS[:4000] + " 1234567 ünïcödé 日本語 🙂🙂 \ud800"
    assert train_bpe(text, 376, pattern=pattern).merges == train_bpe_naive(text, 376, pattern=pattern).merges


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\n1é", max_size=60), st.integers(256, 300))
def test_incremental_training_equals_the_naive_loop_on_generated_text(text: str, vocab_size: int) -> None:
    assert train_bpe(text, vocab_size).merges == train_bpe_naive(text, vocab_size).merges


def test_first_merge_is_the_most_frequent_pair() -> None:
    one_chunk = r"(?s).+"  # no pre-tokenization
    assert train_bpe("abcabcab", 257, pattern=one_chunk).merges == [(97, 98)]  # ab 3 times, bc and ca twice
    assert train_bpe("bab", 257, pattern=one_chunk).merges == [(97, 98)]  # a tie: the smaller pair of ids
    assert train_bpe("aaa", 258, pattern=one_chunk).merges == [(97, 97), (256, 97)]  # overlaps count twice


def test_merges_never_cross_a_chunk_edge(corpus_tokenizers: dict[str, Tokenizer]) -> None:
    for name, tok in corpus_tokenizers.items():
        for token in tok.vocab[256 : 256 + len(tok.merges)]:
            text = token.decode("utf-8", "surrogatepass") if _valid(token) else None
            if text is not None:
                assert len(regex.findall(PATTERNS[name], text)) == 1, (name, token)


def _valid(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_training_stops_when_the_text_runs_out_of_pairs() -> None:
    tok = train_bpe("ab", 1000, special_tokens=[SPECIAL])
    assert tok.merges == [(97, 98)] and tok.vocab_size == 258 and tok.special_tokens == {SPECIAL: 257}
    assert train_bpe("", 300).vocab_size == 256


def test_the_trained_vocabulary_has_no_duplicate_tokens(corpus_tokenizers: dict[str, Tokenizer]) -> None:
    for tok in corpus_tokenizers.values():
        assert len(set(tok.vocab)) == tok.vocab_size == 768


# --- encoding ---------------------------------------------------------------------------------------------


def test_encoding_equals_the_brute_force_reference(corpus_tokenizers: dict[str, Tokenizer]) -> None:
    texts = [CORPUS[-1500:], *udhr_article1().values(), "x = 12345678 + 3.14159\n\n\tdef f():  return"]
    for tok in corpus_tokenizers.values():
        for text in texts:
            assert tok.encode(text) == reference_encode(tok, text)


def test_the_cache_changes_nothing(corpus_tokenizers: dict[str, Tokenizer]) -> None:
    tok = corpus_tokenizers["gpt2"]
    fresh = Tokenizer(tok.merges, pattern="gpt2")
    text = CORPUS[:3000]
    first = fresh.encode(text)
    assert fresh._cache and fresh.encode(text) == first == reference_encode(tok, text)


def test_llama3_pattern_cuts_digits_in_threes_gpt2_does_not() -> None:
    assert Tokenizer([], pattern="llama3").split("in 1234567 ways") == ["in", " ", "123", "456", "7", " ways"]
    assert Tokenizer([], pattern="gpt2").split("in 1234567 ways") == ["in", " 1234567", " ways"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=50))
def test_the_chunks_cover_every_character(text: str) -> None:
    for tok in _BARE:
        assert "".join(tok.split(text)) == text


_BARE = [Tokenizer([], pattern=pattern) for pattern in PATTERNS]


def test_special_tokens_are_single_ids_and_never_merged(corpus_tokenizers: dict[str, Tokenizer]) -> None:
    tok = corpus_tokenizers["gpt2"]
    sid = tok.special_tokens[SPECIAL]
    assert sid == 767
    ids = tok.encode(f"the end{SPECIAL}The start{SPECIAL}{SPECIAL}")
    assert ids.count(sid) == 3 and tok.decode(ids) == f"the end{SPECIAL}The start{SPECIAL}{SPECIAL}"
    assert sid not in tok.encode(f"the end{SPECIAL}", allow_special=False)
    assert all(sid not in pair for pair in tok.merges)


def test_longer_special_tokens_win() -> None:
    tok = Tokenizer([], special_tokens=["<a>", "<a><b>"])
    assert tok.encode("<a><b><a>") == [257, 256]


# --- round trips -------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None)))  # every code point, lone surrogates included
def test_round_trip_on_any_string(text: str) -> None:
    for tok in (_SMALL_GPT2, _SMALL_LLAMA):
        assert tok.decode(tok.encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["\ud800", "\udfff", "\ud83d", "\ude00", "\x00", "\r\n", " ", "a", SPECIAL, "1"])
    )
)
def test_round_trip_on_surrogates_controls_and_specials(parts: list[str]) -> None:
    text = "".join(parts)
    for tok in (_SMALL_GPT2, _SMALL_LLAMA):
        assert tok.decode(tok.encode(text)) == text


_SMALL_GPT2 = train_bpe(CORPUS[:8000] + "\ud800\ude00 🙂", 330, special_tokens=[SPECIAL])
_SMALL_LLAMA = train_bpe(CORPUS[:8000], 330, pattern="llama3", special_tokens=[SPECIAL])


def test_round_trip_edge_cases() -> None:
    for text in ["", "\ud800", "\udc00\ud800", "\ud83d\ude00", "😀", "\x00\x7f\x80", SPECIAL, SPECIAL[:-1]]:
        ids = _SMALL_GPT2.encode(text)
        assert _SMALL_GPT2.decode(ids) == text
    assert _SMALL_GPT2.encode("") == []


def test_decode_replaces_invalid_bytes() -> None:
    tok = Tokenizer([])
    for bad in [b"\xffA", b"\xf0\x9f\x99", b"a\xe2\x82b\xc3", b"\x80\x80", b"\xf8\x88\x80\x80\x80"]:
        assert tok.decode(list(bad)) == bad.decode("utf-8", "replace")  # Python's own replacement
    assert tok.decode([0xED, 0xA0, 0x80]) == "\ud800"  # a lone surrogate's own bytes come back as it


def test_bytes_of_text_are_utf8_where_utf8_applies() -> None:
    for text in udhr_article1().values():
        assert text_to_bytes(text) == text.encode("utf-8")
    assert text_to_bytes("\ud800") == b"\xed\xa0\x80"


# --- save and load -----------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path, corpus_tokenizers: dict[str, Tokenizer]) -> None:
    for name, tok in corpus_tokenizers.items():
        path = tmp_path / f"{name}.txt"
        tok.save(path)
        back = Tokenizer.load(path)
        assert back.merges == tok.merges and back.pattern == tok.pattern == PATTERNS[name]
        assert back.special_tokens == tok.special_tokens and back.vocab == tok.vocab
        assert back.encode(CORPUS[:2000] + SPECIAL) == tok.encode(CORPUS[:2000] + SPECIAL)
        text = path.read_text(encoding="utf-8")
        assert text.startswith("llmguide-bpe 1\npattern ") and text.count("\n") == 4 + 1 + 511


def test_load_refuses_a_broken_file(tmp_path) -> None:
    path = tmp_path / "bad.txt"
    Tokenizer([(97, 98)]).save(path)
    good = path.read_text()
    for bad in [
        good.replace("merges 1", "merges 2"),
        good.replace("97 98", "97 x"),
        "hello\n",
        good + "junk\n",
    ]:
        path.write_text(bad)
        with pytest.raises(ValueError, match=r"bad\.txt"):
            Tokenizer.load(path)


# --- bad input ---------------------------------------------------------------------------------------------


def test_bad_input_names_the_parameter() -> None:
    with pytest.raises(TypeError, match="text"):
        train_bpe(b"abc", 300)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe("abc", 256, special_tokens=[SPECIAL])
    with pytest.raises(TypeError, match="vocab_size"):
        train_bpe("abc", 300.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pattern"):
        train_bpe("abc", 300, pattern="(")
    with pytest.raises(TypeError, match="special_tokens"):
        Tokenizer([], special_tokens="<s>")
    with pytest.raises(ValueError, match="special_tokens"):
        Tokenizer([], special_tokens=["<s>", "<s>"])
    with pytest.raises(ValueError, match=r"merges\[0\]\[1\]"):
        Tokenizer([(97, 256)])
    with pytest.raises(TypeError, match=r"merges\[0\]"):
        Tokenizer([(97,)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="text"):
        Tokenizer([]).encode(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ids"):
        Tokenizer([]).decode([256])
    with pytest.raises(ValueError, match="ids"):
        Tokenizer([]).decode([-1])
    with pytest.raises(TypeError, match="ids"):
        Tokenizer([]).decode([1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ids"):
        Tokenizer([]).decode("abc")  # type: ignore[arg-type]


# --- the production library --------------------------------------------------------------------------------


def test_bytes_to_unicode_is_gpt2s_alphabet() -> None:
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("!")] == "!"
    assert all(table[b] == chr(b) for b in string.ascii_letters.encode())


def test_ids_equal_huggingface_tokenizers(corpus_tokenizers: dict[str, Tokenizer]) -> None:
    import tokenizers  # noqa: F401  (a test dependency: a broken install must fail, not skip)

    texts = [CORPUS, *udhr_article1().values(), "x = 12345678 + 3.14159\n\n\tdef f():  return 'a'  \n"]
    texts.append("🙂 déjà vu — naïve café, 東京 " + SPECIAL + " Ünïcödé\r\n\r\n  ")
    for tok in corpus_tokenizers.values():
        hf = to_huggingface(tok)
        for text in texts:
            ids = tok.encode(text)
            assert hf.encode(text).ids == ids
            assert hf.decode(ids, skip_special_tokens=False) == text


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80))
def test_ids_equal_huggingface_tokenizers_on_generated_text(text: str) -> None:
    import tokenizers  # noqa: F401  (a test dependency: a broken install must fail, not skip)

    for tok, hf in _HF:
        assert hf.encode(text).ids == tok.encode(text)


try:
    _HF = [(tok, to_huggingface(tok)) for tok in (_SMALL_GPT2, _SMALL_LLAMA)]
except ImportError:  # the test above skips
    _HF = []
