"""The `llmguide` command's promise for every subcommand: an error is one line on stderr, never a stack trace.

The subcommands' own behaviour is tested in test_cli_memory.py, test_cli_chinchilla.py, test_generate.py and
test_train.py; this file tests the machinery they share (llmguide.cli.main and its flag mappings).
"""

from __future__ import annotations

import argparse

import pytest

from llmguide import cli as cli_module

SUBCOMMANDS = ("train", "generate", "memory", "chinchilla")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli_module.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_maps_parameters_to_flags_it_has(name: str) -> None:
    sub = _subparsers()[name]
    flags = sub.get_default("flags")
    assert flags, f"llmguide {name} declares no parameter-to-flag mapping"
    options = {s for action in sub._actions for s in action.option_strings} | {
        action.dest for action in sub._actions if not action.option_strings
    }
    assert set(flags.values()) <= options, set(flags.values()) - options


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["train"], "--out"),  # a required flag is missing
        (["generate", "--checkpoint", "x.pt"], "--prompt"),
        (["memory", "gpt2", "--batch-size", "two"], "--batch-size"),
        (["chinchilla", "--flops"], "--flops"),
        (["memory", "gpt2", "--no-such-flag"], "--no-such-flag"),
    ],
)
def test_argparse_errors_are_one_line_too(cli, argv: list[str], flag: str) -> None:
    result = cli(*argv)
    assert result.status == 2
    assert result.fails_naming(flag).endswith("--help)")  # no usage block above it


def test_an_unexpected_error_is_one_line_with_its_kind_and_status_1(cli, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something broke\nsecond line of details")

    monkeypatch.setattr("llmguide.sizing.inference_memory", broken)
    result = cli("memory", "gpt2")
    assert result.status == 1
    assert result.err == "llmguide memory: error: RuntimeError: something broke\n"


def test_llmguide_debug_shows_the_stack_trace(cli, monkeypatch) -> None:
    monkeypatch.setattr("llmguide.sizing.inference_memory", lambda *a, **k: 1 / 0)
    monkeypatch.setenv("LLMGUIDE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("memory", "gpt2")


def test_an_interrupt_is_one_line_and_status_130(cli, monkeypatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("llmguide.scaling.compute_optimal", interrupted)
    result = cli("chinchilla", "--flops", "1e21")
    assert (result.status, result.err) == (130, "llmguide chinchilla: interrupted\n")


@pytest.mark.parametrize(
    ("message", "params", "flags", "expected"),
    [
        (
            "n_embd must be divisible by n_head, got n_embd=16",
            ("n_embd", "n_head"),
            {"n_embd": "--n-embd", "n_head": "--n-head"},
            "--n-embd must be divisible by --n-head, got --n-embd=16",
        ),
        ("min_lr must be in [0, lr=3]", ("min_lr", "lr"), {"lr": "--lr"}, "min_lr must be in [0, --lr=3]"),
        (
            "unknown dtype 'n_head'",
            ("dtype",),
            {"dtype": "--dtype", "n_head": "--heads"},
            "unknown --dtype 'n_head'",
        ),
        # only the parameters the error carries: n_head is a flag here, but this error is not about it
        (
            "n_head heads of n_embd",
            ("n_embd",),
            {"n_embd": "--hidden", "n_head": "--heads"},
            "n_head heads of --hidden",
        ),
        ("see llmguide.model.GPT", ("model",), {"model": "MODEL"}, "see llmguide.model.GPT"),
    ],
)
def test_the_parameters_an_error_carries_become_flags(
    message: str, params: tuple[str, ...], flags: dict, expected: str
) -> None:
    assert cli_module._with_flags(message, params, flags) == expected


@pytest.mark.parametrize(
    ("command", "param", "flag"),
    [
        ("chinchilla", "compute_flops", "--flops"),
        ("generate", "text", "--prompt"),
        ("memory", "n_layer", "--layers"),
        ("memory", "model", "model"),
        ("train", "n_embd", "--n-embd"),
    ],
)
def test_each_flag_sets_the_parameter_it_is_named_for_in_the_library(
    command: str, param: str, flag: str
) -> None:
    # The parser is the one list of flags: a flag's dest is the library's parameter name.
    assert _subparsers()[command].get_default("flags")[param] == flag


def test_an_error_carrying_its_parameter_is_shown_with_the_flag(cli, monkeypatch) -> None:
    from llmguide.validate import check_int

    def refuses(*args: object, **kwargs: object) -> None:
        check_int("n_layer", 0, minimum=1)

    monkeypatch.setattr("llmguide.sizing.inference_memory", refuses)
    result = cli("memory", "gpt2")
    assert result.status == 2
    assert result.err == "llmguide memory: error: --layers must be an integer >= 1, got 0\n"
