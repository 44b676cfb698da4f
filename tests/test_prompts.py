"""Tests for llmguide.prompts: the prompt builders and the in-context-learning toy task."""

from __future__ import annotations

import pytest

from llmguide.prompts import few_shot, zero_shot

# The two prompts of the notes (llm-notes-part-1.md, "Prompt engineering"), typed out line by line.
NOTES_ZERO_SHOT = "Question: What is the meaning of life?\nAnswer:"
NOTES_FEW_SHOT = (
    "Question: what is the sentiment of this review: this movie is great!\n"
    "Answer: positive.\n"
    "Question: what is the sentiment of this review: this movie is terrible!\n"
    "Answer:"
)


def test_zero_shot_matches_the_notes() -> None:
    assert zero_shot("What is the meaning of life?") == NOTES_ZERO_SHOT


def test_few_shot_matches_the_notes() -> None:
    review = "what is the sentiment of this review: this movie is {}!"
    prompt = few_shot([(review.format("great"), "positive.")], review.format("terrible"))
    assert prompt == NOTES_FEW_SHOT


def test_few_shot_without_examples_is_zero_shot() -> None:
    assert few_shot([], "Why?") == zero_shot("Why?") == "Question: Why?\nAnswer:"


def test_layout_has_two_lines_per_example_and_ends_open() -> None:
    examples = [(f"q{i}", f"a{i}") for i in range(5)]
    lines = few_shot(examples, "last", question_prefix="Q:", answer_prefix="A:").split("\n")
    assert len(lines) == 2 * len(examples) + 2
    assert lines[0::2] == [f"Q: q{i}" for i in range(5)] + ["Q: last"]
    assert lines[1::2] == [f"A: a{i}" for i in range(5)] + ["A:"]


def test_examples_may_be_lists_or_tuples_and_keep_their_order() -> None:
    prompt = few_shot([["b", "2"], ("a", "1")], "c")
    assert prompt.index("Question: b") < prompt.index("Question: a")


@pytest.mark.parametrize("question", ["", "   ", "\t"])
def test_empty_question_is_rejected(question: str) -> None:
    with pytest.raises(ValueError, match="question must be a non-empty string"):
        zero_shot(question)
    with pytest.raises(ValueError, match="question must be a non-empty string"):
        few_shot([("x", "y")], question)


@pytest.mark.parametrize("question", [3, None, b"bytes"])
def test_non_string_question_is_rejected(question: object) -> None:
    with pytest.raises(TypeError, match="question must be a str"):
        zero_shot(question)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "examples",
    [
        "question answer",  # a string is a sequence, but not of pairs
        [("only a question",)],
        [("q", "a", "extra")],
        ["qa"],
        [("q", "a"), "not a pair"],
        None,
        {"q": "a"},
    ],
)
def test_examples_that_are_not_pairs_are_rejected(examples: object) -> None:
    with pytest.raises(TypeError, match="examples"):
        few_shot(examples, "q")  # type: ignore[arg-type]


def test_example_with_non_string_answer_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"examples\[0\] answer must be a str"):
        few_shot([("q", 4)], "q")  # type: ignore[list-item]


@pytest.mark.parametrize("bad", ["positive.\nQuestion: injected", "two\nlines", "cr\rline", "end\n"])
def test_line_breaks_that_would_corrupt_the_layout_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"examples\[1\] answer must fit on one line"):
        few_shot([("q", "a"), ("q", bad)], "q")
    with pytest.raises(ValueError, match=r"examples\[0\] question must fit on one line"):
        few_shot([(bad, "a")], "q")
    with pytest.raises(ValueError, match="question must fit on one line"):
        zero_shot(bad)


def test_empty_answer_is_rejected() -> None:
    # An empty answer would print a bare "Answer:" line, which reads as an open slot for the model.
    with pytest.raises(ValueError, match=r"examples\[0\] answer must be a non-empty string"):
        few_shot([("q", "")], "q")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"question_prefix": ""}, "question_prefix must be a non-empty string"),
        ({"answer_prefix": "A\n:"}, "answer_prefix must fit on one line"),
        ({"question_prefix": "Q:", "answer_prefix": "Q:"}, "must differ"),
    ],
)
def test_bad_prefixes_are_rejected(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        zero_shot("q", **kwargs)
