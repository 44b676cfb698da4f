"""Zero-shot and few-shot prompts: plain string functions, no model and no torch.

The template is the Question/Answer layout of the notes, with nothing hidden: each example is one question line
and one answer line, and the prompt ends with the answer prefix, left open for the model to complete.

```text
{question_prefix} {question 1}
{answer_prefix} {answer 1}
...
{question_prefix} {question}
{answer_prefix}
```

- `zero_shot`, `few_shot`: the builders. Text that would corrupt the layout (an empty question or answer, a line
  break inside one, equal prefixes) raises `ValueError`; examples that are not (question, answer) pairs raise
  `TypeError`.
- `check_line`, `check_prefixes`: the same checks on their own, for code that lays out prompts of its own
  (the toy task `llmguide.tasks.ParityEpisodes` does).
"""

from __future__ import annotations

from collections.abc import Sequence

from llmguide.validate import check_instance

__all__ = ["check_line", "check_prefixes", "few_shot", "zero_shot"]


def check_line(text: object, name: str) -> str:
    """Return `text` if it is a non-empty string on one line, else raise an error naming `name`.

    For example:

    ```python
    from llmguide.prompts import check_line

    try:
        check_line("  ", "answer")
    except ValueError as error:
        print(error)
    #> answer must be a non-empty string, got '  '
    ```

    Args:
        text: the text to check.
        name: what the text is, for the message (e.g. `"examples[0] answer"`).

    Returns:
        `text`.

    Raises:
        TypeError: `text` is not a `str`.
        ValueError: `text` is empty or blank, or holds a line break (any of those `str.splitlines` splits at).
    """
    check_instance(name, text, str, "a str")
    if not text.strip():
        raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    if text.splitlines() != [text]:
        raise ValueError(
            f"{name} must fit on one line (no newline or other line break), got {text!r}: "
            "a line break would corrupt the Question/Answer layout"
        )
    return text


def check_prefixes(question_prefix: str, answer_prefix: str) -> None:
    """Check the two prefixes of the layout: each one non-empty line, and different from each other.

    For example:

    ```python
    from llmguide.prompts import check_prefixes

    check_prefixes("Q:", "A:")  # fine: returns None
    ```

    Args:
        question_prefix: text that opens every question line.
        answer_prefix: text that opens every answer line.

    Raises:
        TypeError: a prefix is not a `str`.
        ValueError: a prefix is empty or holds a line break, or the two are equal.
    """
    check_line(question_prefix, "question_prefix")
    check_line(answer_prefix, "answer_prefix")
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
    check_prefixes(question_prefix, answer_prefix)
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
        raise TypeError(
            f"examples must be a sequence of (question, answer) pairs, got {type(examples).__name__}"
        )
    lines = []
    for i, pair in enumerate(examples):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"examples[{i}] must be a (question, answer) pair, got {pair!r}")
        q = check_line(pair[0], f"examples[{i}] question")
        a = check_line(pair[1], f"examples[{i}] answer")
        lines += [f"{question_prefix} {q}", f"{answer_prefix} {a}"]
    lines += [f"{question_prefix} {check_line(question, 'question')}", answer_prefix]
    return "\n".join(lines)
