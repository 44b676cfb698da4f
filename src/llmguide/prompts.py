"""Zero-shot and few-shot prompts, and a toy task that measures in-context learning.

The prompt builders are plain string functions. Their template is the Question/Answer layout of the notes,
with nothing hidden: each example is one question line and one answer line, and the prompt ends with the
answer prefix, left open for the model to complete.

```text
{question_prefix} {question 1}
{answer_prefix} {answer 1}
...
{question_prefix} {question}
{answer_prefix}
```
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["few_shot", "zero_shot"]


def _check_line(text: object, name: str) -> str:
    """Return `text` if it is a non-empty string on one line, else raise naming `name`."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    if text.splitlines() != [text]:
        raise ValueError(
            f"{name} must fit on one line (no newline or other line break), got {text!r}: "
            "a line break would corrupt the Question/Answer layout"
        )
    return text


def _check_prefixes(question_prefix: str, answer_prefix: str) -> None:
    _check_line(question_prefix, "question_prefix")
    _check_line(answer_prefix, "answer_prefix")
    if question_prefix == answer_prefix:
        raise ValueError(
            f"question_prefix and answer_prefix must differ, both are {question_prefix!r}: "
            "the model could not tell questions from answers"
        )


def zero_shot(question: str, *, question_prefix: str = "Question:", answer_prefix: str = "Answer:") -> str:
    """Build a zero-shot prompt: the question and an open answer line, no examples.

    The prompt gives only the structure of the exchange; the model has to fill in the answer. For example:

    ```python
    from llmguide.prompts import zero_shot

    print(zero_shot("What is the meaning of life?"))
    #> Question: What is the meaning of life?
    #> Answer:
    ```

    Args:
        question: the question, one non-empty line of text.
        question_prefix: text that opens the question line.
        answer_prefix: text that opens the answer line; the prompt ends with it.

    Returns:
        `"{question_prefix} {question}\\n{answer_prefix}"` (no trailing space or newline).

    Raises:
        TypeError: `question` or a prefix is not a `str`.
        ValueError: `question` or a prefix is empty or contains a line break, or the two prefixes are equal.
    """
    return few_shot([], question, question_prefix=question_prefix, answer_prefix=answer_prefix)


def few_shot(
    examples: Sequence[tuple[str, str]],
    question: str,
    *,
    question_prefix: str = "Question:",
    answer_prefix: str = "Answer:",
) -> str:
    """Build a few-shot prompt: worked (question, answer) examples, then the question with an open answer.

    With no examples this is exactly `zero_shot(question)`; with one it is a one-shot prompt. For example:

    ```python
    from llmguide.prompts import few_shot

    print(few_shot([("2 + 2", "4"), ("3 + 5", "8")], "1 + 6"))
    #> Question: 2 + 2
    #> Answer: 4
    #> Question: 3 + 5
    #> Answer: 8
    #> Question: 1 + 6
    #> Answer:
    ```

    Args:
        examples: (question, answer) pairs, in the order they appear in the prompt. Each question and answer
            is one non-empty line of text.
        question: the question to be answered, one non-empty line of text.
        question_prefix: text that opens every question line.
        answer_prefix: text that opens every answer line; the prompt ends with it.

    Returns:
        One question line and one answer line per example, then the question line and the bare answer prefix,
        joined by `"\\n"` (no trailing space or newline).

    Raises:
        TypeError: `examples` is not a sequence of (question, answer) pairs, or a text is not a `str`.
        ValueError: a question, answer or prefix is empty or contains a line break, or the prefixes are equal.
    """
    _check_prefixes(question_prefix, answer_prefix)
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
        raise TypeError(
            f"examples must be a sequence of (question, answer) pairs, got {type(examples).__name__}"
        )
    lines = []
    for i, pair in enumerate(examples):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"examples[{i}] must be a (question, answer) pair, got {pair!r}")
        q = _check_line(pair[0], f"examples[{i}] question")
        a = _check_line(pair[1], f"examples[{i}] answer")
        lines += [f"{question_prefix} {q}", f"{answer_prefix} {a}"]
    lines += [f"{question_prefix} {_check_line(question, 'question')}", answer_prefix]
    return "\n".join(lines)
