"""Zero-shot and few-shot prompts: plain string functions, no model and no torch.

The template is the Question/Answer layout of the notes, with nothing hidden: each example is one question line
and one answer line, and the prompt ends with the answer prefix, left open for the model to complete.

```text
{instruction}                       (optional: one line that describes the task)
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
- `chat_prompt`: the prompt of a chat model, a list of messages written out in a chat template. Only ChatML
  is built in, the format of the default template in the Hugging Face chat templating documentation
  (https://huggingface.co/docs/transformers/main/en/chat_templating), which OpenAI introduced as Chat Markup
  Language:

```text
<|im_start|>{role}
{content}<|im_end|>
...
<|im_start|>assistant
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llmguide.validate import check_bool, check_choice, check_instance

__all__ = [
    "CHATML_END",
    "CHATML_START",
    "chat_prompt",
    "check_line",
    "check_prefixes",
    "few_shot",
    "zero_shot",
]

CHATML_START = "<|im_start|>"
"""Opens every message in ChatML, followed by the role and a newline. A single special token in the
tokenizers of the models trained on this format."""
CHATML_END = "<|im_end|>"
"""Closes every message in ChatML, followed by a newline. A chat model ends its own turn by generating it."""


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


def zero_shot(
    question: str,
    *,
    question_prefix: str = "Question:",
    answer_prefix: str = "Answer:",
    instruction: str | None = None,
) -> str:
    """Build a zero-shot prompt: the question and an open answer line, no examples.

    Without an `instruction` the prompt gives only the structure of the exchange, as in the notes; GPT-3's
    zero-shot setting (Brown et al. 2020, section 2) adds a line that describes the task. For example:

    ```python
    from llmguide.prompts import zero_shot

    print(zero_shot("What is the meaning of life?"))
    #> Question: What is the meaning of life?
    #> Answer:
    print(zero_shot("What is the meaning of life?", instruction="Answer in one word."))
    #> Answer in one word.
    #> Question: What is the meaning of life?
    #> Answer:
    ```

    Args:
        question: the question, one non-empty line of text.
        question_prefix: text that opens the question line.
        answer_prefix: text that opens the answer line; the prompt ends with it.
        instruction: if given, one line that describes the task, placed first.

    Returns:
        `"{question_prefix} {question}\\n{answer_prefix}"` (no trailing space or newline), after
        `"{instruction}\\n"` if an instruction is given.

    Raises:
        TypeError: `question` or a prefix is not a `str`.
        ValueError: `question`, a prefix or `instruction` is empty or contains a line break, or the two prefixes
            are equal.
    """
    return few_shot(
        [], question, question_prefix=question_prefix, answer_prefix=answer_prefix, instruction=instruction
    )


def few_shot(
    examples: Sequence[tuple[str, str]],
    question: str,
    *,
    question_prefix: str = "Question:",
    answer_prefix: str = "Answer:",
    instruction: str | None = None,
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
        instruction: if given, one line that describes the task, placed before the examples.

    Returns:
        The instruction line if given, one question line and one answer line per example, then the question
        line and the bare answer prefix, joined by `"\\n"` (no trailing space or newline).

    Raises:
        TypeError: `examples` is not a sequence of (question, answer) pairs, or a text is not a `str`.
        ValueError: a question, answer, prefix or instruction is empty or contains a line break, or the prefixes
            are equal.
    """
    check_prefixes(question_prefix, answer_prefix)
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
        raise TypeError(
            f"examples must be a sequence of (question, answer) pairs, got {type(examples).__name__}"
        )
    lines = [] if instruction is None else [check_line(instruction, "instruction")]
    for i, pair in enumerate(examples):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"examples[{i}] must be a (question, answer) pair, got {pair!r}")
        q = check_line(pair[0], f"examples[{i}] question")
        a = check_line(pair[1], f"examples[{i}] answer")
        lines += [f"{question_prefix} {q}", f"{answer_prefix} {a}"]
    lines += [f"{question_prefix} {check_line(question, 'question')}", answer_prefix]
    return "\n".join(lines)


def chat_prompt(
    messages: Sequence[Mapping[str, str]], *, template: str = "chatml", add_generation_prompt: bool = True
) -> str:
    """Write a conversation as the text a chat model reads: each message wrapped in the template's markers.

    An instruction-tuned chat model was fine-tuned on conversations written in one fixed layout, its *chat
    template*; prompted in that layout it is in familiar territory. In ChatML each message is
    `<|im_start|>{role}\\n{content}<|im_end|>\\n`, and the prompt ends with an open assistant turn,
    `<|im_start|>assistant\\n`, for the model to complete (as a few-shot prompt ends on `Answer:`). For example:

    ```python
    from llmguide.prompts import chat_prompt

    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the meaning of life?"},
    ]
    print(chat_prompt(messages))
    #> <|im_start|>system
    #> You are a helpful assistant.<|im_end|>
    #> <|im_start|>user
    #> What is the meaning of life?<|im_end|>
    #> <|im_start|>assistant
    #>
    ```

    The text is exactly what the documented ChatML template of Hugging Face's `apply_chat_template` renders
    (no whitespace is trimmed or added), with `add_generation_prompt` meaning the same; note that
    `apply_chat_template` defaults to `add_generation_prompt=False`, and this function to `True`, since a prompt
    is made to be completed. Content that holds a marker is refused: it would open or close a message that
    nobody wrote.

    Args:
        messages: the conversation, in order: mappings with a `"role"` (one non-empty line, such as `"system"`,
            `"user"` or `"assistant"`) and a `"content"` (any text, newlines included).
        template: the chat template; only `"chatml"` is built in.
        add_generation_prompt: end with an open assistant turn for the model to complete.

    Returns:
        The messages in the template, one after the other, then `<|im_start|>assistant\\n` if
        `add_generation_prompt` (characters, not tokens: a chat model's tokenizer turns each marker into one
        special token).

    Raises:
        TypeError: `messages` is not a sequence of mappings, a role or content is not a `str`, or
            `add_generation_prompt` is not a bool.
        ValueError: an unknown template, a message without a role or content (or with other keys), a role
            that is empty or not one line, or a role or content that holds `<|im_start|>` or `<|im_end|>`.
    """
    check_choice("template", template, ("chatml",))
    check_bool("add_generation_prompt", add_generation_prompt)
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError(
            f"messages must be a sequence of {{'role': ..., 'content': ...}} mappings, got {type(messages).__name__}"
        )
    parts = []
    for i, message in enumerate(messages):
        check_instance(f"messages[{i}]", message, Mapping, "a mapping with keys 'role' and 'content'")
        if set(message) != {"role", "content"}:
            raise ValueError(
                f"messages[{i}] must have exactly the keys 'role' and 'content', got {sorted(message)!r}"
            )
        role = check_line(message["role"], f"messages[{i}] role")
        content = check_instance(f"messages[{i}] content", message["content"], str, "a str")
        for name, text in (("role", role), ("content", content)):
            for marker in (CHATML_START, CHATML_END):
                if marker in text:
                    raise ValueError(
                        f"messages[{i}] {name} holds the marker {marker!r}, which would open or close a message "
                        "of its own"
                    )
        parts.append(f"{CHATML_START}{role}\n{content}{CHATML_END}\n")
    if add_generation_prompt:
        parts.append(f"{CHATML_START}assistant\n")
    return "".join(parts)
