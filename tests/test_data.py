"""Tests of llmguide.data: the byte tokenizer, the shipped corpus, batching, and the recall task."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from llmguide.data import VOCAB_SIZE, TextData, corpus_data, decode, encode, load_corpus, split_tokens
from llmguide.model import IGNORE_INDEX
from llmguide.tasks import RecallTask

# ---------------------------------------------------------------- tokenizer


@given(st.text())
def test_round_trip_is_lossless_for_any_text(text: str) -> None:
    ids = encode(text)
    assert all(isinstance(i, int) and 0 <= i < VOCAB_SIZE for i in ids)
    assert decode(ids) == text
    assert decode(torch.tensor(ids, dtype=torch.long)) == text


def test_ascii_tokens_are_code_points_and_other_letters_take_several_bytes() -> None:
    assert encode("Az~") == [ord("A"), ord("z"), ord("~")]
    # U+00E9 is 0xC3 0xA9 in UTF-8, U+20AC (euro) 0xE2 0x82 0xAC, U+1F600 four bytes (RFC 3629 table)
    assert encode("\u00e9") == [0xC3, 0xA9]
    assert encode("\u20ac") == [0xE2, 0x82, 0xAC]
    assert len(encode("\U0001f600")) == 4
    assert encode("") == []


def test_invalid_byte_sequences_decode_to_the_replacement_character() -> None:
    assert decode([72, 0xC3]) == "H\ufffd"  # a two-byte letter cut in half
    assert decode([0xFF]) == "\ufffd"  # 0xFF never occurs in UTF-8


def test_encode_rejects_non_strings_and_lone_surrogates() -> None:
    with pytest.raises(TypeError, match="text"):
        encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="text"):
        encode("a\ud800b")


@pytest.mark.parametrize("ids", [[256], [-1], [65, 300]])
def test_decode_rejects_ids_outside_the_vocabulary(ids: list[int]) -> None:
    with pytest.raises(ValueError, match="ids"):
        decode(ids)


@pytest.mark.parametrize("ids", [[72.9], [72, 105.0], [True], torch.tensor([72.9]), ["H"], "Hi", None])
def test_decode_refuses_what_is_not_integer_ids_instead_of_truncating(ids: object) -> None:
    # decode([72.9]) used to give "H": int() truncated the float silently
    with pytest.raises(TypeError, match=r"^ids must"):
        decode(ids)  # type: ignore[arg-type]


def test_decode_accepts_numpy_and_small_integer_tensors() -> None:
    import numpy as np

    assert decode(np.array([72, 105])) == "Hi"
    assert decode(torch.tensor([72, 105], dtype=torch.uint8)) == "Hi"
    assert decode(iter([72, 105])) == "Hi"


def test_decode_rejects_a_2d_tensor() -> None:
    with pytest.raises(ValueError, match="ids"):
        decode(torch.zeros(2, 3, dtype=torch.long))


# ---------------------------------------------------------------- corpus


def test_corpus_is_shipped_in_the_package_with_its_licence_note() -> None:
    folder = resources.files("llmguide").joinpath("corpus")
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    assert "MIT" in readme and "Source" in readme
    text = load_corpus()
    size = len(text.encode("utf-8"))
    assert 50_000 < size < 1_000_000  # big enough to learn words from, small enough to ship
    assert text == folder.joinpath("corpus.txt").read_text(encoding="utf-8")
    assert decode(encode(text)) == text
    # the README's description: "about 58 kB of plain English prose in 41 short numbered pieces", ASCII
    assert "about 58 kB" in readme and round(size / 1000) == 58
    pieces = re.findall(r"^[IVXLC]+\. [A-Z]", text, flags=re.MULTILINE)  # "I. THE FERRY", ...
    assert "41 short numbered pieces" in readme and len(pieces) == 41
    assert text.isascii()


def test_corpus_data_splits_the_whole_corpus_in_order() -> None:
    full = torch.tensor(encode(load_corpus()))
    data = corpus_data(block_size=32, val_fraction=0.1)
    assert torch.equal(torch.cat([data.train, data.val]), full)
    assert abs(data.val.numel() / full.numel() - 0.1) < 1e-3
    assert data.block_size == 32 and data.vocab_size == 256


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_val_fraction_must_be_inside_0_1(fraction: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_tokens(torch.arange(10), val_fraction=fraction)
    with pytest.raises(ValueError, match="val_fraction"):
        corpus_data(val_fraction=fraction)


def test_split_tokens_is_contiguous() -> None:
    train, val = split_tokens(torch.arange(100), val_fraction=0.25)
    assert train.tolist() == list(range(75)) and val.tolist() == list(range(75, 100))


# ---------------------------------------------------------------- batches


def _stream_data(n: int = 1000, block_size: int = 16) -> TextData:
    # token i has id i % 256; with n <= 256 each window's first token gives its start position
    tokens = torch.arange(n) % 256
    return TextData(train=tokens, val=tokens.flip(0).contiguous(), block_size=block_size)


def test_batches_are_contiguous_windows_shifted_by_one() -> None:
    data = _stream_data(n=200, block_size=16)
    x, y = data.get_batch("train", 64, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (64, 16) and x.dtype == torch.long
    for row_x, row_y in zip(x, y, strict=True):
        start = int(row_x[0])
        assert row_x.tolist() == list(range(start, start + 16))  # a contiguous window of the stream
        assert row_y.tolist() == list(range(start + 1, start + 17))  # the next token at every position
        assert 0 <= start <= 200 - 17


def test_every_window_start_can_be_drawn() -> None:
    data = _stream_data(n=40, block_size=8)  # starts 0 .. 31
    x, _ = data.get_batch("train", 2000, generator=torch.Generator().manual_seed(0))
    assert set(x[:, 0].tolist()) == set(range(32))


def test_the_shortest_stream_has_exactly_one_window() -> None:
    data = TextData(train=torch.arange(9), val=torch.arange(9), block_size=8)
    x, y = data.get_batch("val", 3, generator=torch.Generator().manual_seed(1))
    assert (x == torch.arange(8)).all() and (y == torch.arange(1, 9)).all()


def test_batches_are_reproducible_with_a_seeded_generator_and_splits_differ() -> None:
    data = _stream_data()
    a = data.get_batch("train", 8, generator=torch.Generator().manual_seed(3))
    b = data.get_batch("train", 8, generator=torch.Generator().manual_seed(3))
    c = data.get_batch("train", 8, generator=torch.Generator().manual_seed(4))
    v = data.get_batch("val", 8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert not torch.equal(a[0], v[0])


def test_get_batch_puts_tensors_on_the_device() -> None:
    x, y = _stream_data().get_batch("train", 2, generator=torch.Generator(), device=torch.device("cpu"))
    assert x.device.type == y.device.type == "cpu"


def test_data_shorter_than_a_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="val holds 8 tokens"):
        TextData(train=torch.arange(100), val=torch.arange(8), block_size=8)
    with pytest.raises(ValueError, match="block_size"):
        corpus_data(block_size=10_000_000)


@pytest.mark.parametrize(
    ("block_size", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_block_size_must_be_a_positive_integer(block_size: object, error: type) -> None:
    with pytest.raises(error, match="block_size"):
        TextData(train=torch.arange(100), val=torch.arange(100), block_size=block_size)  # type: ignore[arg-type]


def test_tokens_must_be_1d_int64() -> None:
    with pytest.raises(TypeError, match="train"):
        TextData(train=torch.zeros(100), val=torch.arange(100), block_size=4)
    with pytest.raises(TypeError, match="train"):
        TextData(train=list(range(100)), val=torch.arange(100), block_size=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="val"):
        TextData(train=torch.arange(100), val=torch.zeros(2, 50, dtype=torch.long), block_size=4)


def test_token_ids_are_checked_where_they_enter() -> None:
    # The model checks batches without waiting for the device, so the data checks its ids once, here.
    with pytest.raises(ValueError, match=r"val holds token ids outside \[0, vocab_size=256\), e.g. 256"):
        TextData(train=torch.arange(100), val=torch.arange(250, 350), block_size=4)
    with pytest.raises(ValueError, match=r"train holds token ids outside \[0, vocab_size=50\), e.g. -1"):
        TextData(train=torch.arange(-1, 49), val=torch.arange(50), block_size=4, vocab_size=50)


def test_get_batch_rejects_bad_arguments() -> None:
    data = _stream_data()
    g = torch.Generator()
    with pytest.raises(ValueError, match="split"):
        data.get_batch("test", 4, generator=g)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            data.get_batch("train", bad, generator=g)
    with pytest.raises(TypeError, match="batch_size"):
        data.get_batch("train", 1.5, generator=g)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        data.get_batch("train", 4, generator=0)  # type: ignore[arg-type]


# ---------------------------------------------------------------- recall task


def test_recall_answers_are_the_symbols_d_positions_before_the_first_query() -> None:
    task = RecallTask(distances=(1, 3, 10), n_symbols=5, seq_len=12, n_queries=4)
    x, y = task.get_batch("train", 200, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (200, 16) and task.block_size == 16 and task.vocab_size == 8
    query_of = {task.query_token(d): d for d in task.distances}
    for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
        assert all(0 <= s < 5 for s in row_x[:12])
        assert row_y[:12] == [IGNORE_INDEX] * 12  # no target among the symbols
        for j in range(4):
            d = query_of[row_x[12 + j]]
            assert row_y[12 + j] == row_x[12 - d]
    # every distance and every symbol occurs
    assert set(x[:, 12:].unique().tolist()) == {5, 6, 7}
    assert set(x[:, :12].unique().tolist()) == set(range(5))


def test_recall_sample_with_a_fixed_distance() -> None:
    task = RecallTask()
    x, y = task.sample(50, generator=torch.Generator().manual_seed(1), d=64)
    assert (x[:, -1] == task.query_token(64)).all()
    assert torch.equal(y[:, -1], x[:, 0])  # 64 positions back from position 64 is position 0


def test_recall_is_reproducible_and_chance_level_is_uniform() -> None:
    task = RecallTask(n_symbols=4)
    a = task.get_batch("val", 4000, generator=torch.Generator().manual_seed(7))
    b = task.get_batch("val", 4000, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    counts = torch.bincount(a[1][:, -1], minlength=4).float() / 4000
    assert (counts - 0.25).abs().max() < 0.03  # no symbol is favoured: chance accuracy is 1/4


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"distances": ()}, "distances"),
        ({"distances": (1, 1)}, "distances"),
        ({"distances": (0,)}, "distances"),
        ({"distances": (65,)}, "distances"),
        ({"n_symbols": 1}, "n_symbols"),
        ({"seq_len": 0}, "seq_len"),
        ({"n_queries": 0}, "n_queries"),
    ],
)
def test_recall_rejects_bad_settings(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RecallTask(**kwargs)


def test_recall_rejects_an_unknown_distance_and_split() -> None:
    task = RecallTask(distances=(1, 2))
    with pytest.raises(ValueError, match="d must be one of"):
        task.sample(2, generator=torch.Generator(), d=3)
    with pytest.raises(ValueError, match="split"):
        task.get_batch("dev", 2, generator=torch.Generator())
