"""Tests of llmguide.train: reproducibility, the schedule, weight decay, validation, and bad input."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
from torch import nn

from llmguide.data import TextData, corpus_data
from llmguide.model import GPT, GPTConfig
from llmguide.rnn import LSTM, LSTMConfig
from llmguide.tasks import RecallTask
from llmguide.train import History, lr_at, train

TINY = GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16)


def _gpt(seed: int = 0, config: GPTConfig = TINY) -> GPT:
    torch.manual_seed(seed)
    return GPT(config)


@pytest.fixture(scope="module")
def data() -> TextData:
    return corpus_data(block_size=16)


@pytest.mark.slow
def test_two_runs_with_the_same_seed_are_bit_for_bit_identical(data: TextData) -> None:
    runs = []
    for _ in range(2):
        model = _gpt()
        history = train(model, data, steps=12, batch_size=4, lr=1e-2, eval_interval=4, device="cpu")
        runs.append((history, model.state_dict()))
    (h1, w1), (h2, w2) = runs
    assert h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    h3 = train(_gpt(), data, steps=12, batch_size=4, lr=1e-2, eval_interval=4, seed=1, device="cpu")
    assert h3.train_loss != h1.train_loss  # another seed draws other batches


@pytest.mark.slow
def test_dropout_runs_are_reproducible_too(data: TextData) -> None:
    config = GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.2)
    a = train(_gpt(config=config), data, steps=5, batch_size=4, lr=1e-2, device="cpu")
    b = train(_gpt(config=config), data, steps=5, batch_size=4, lr=1e-2, device="cpu")
    assert a.train_loss == b.train_loss


def test_history_records_steps_tokens_and_validation_points(data: TextData) -> None:
    history = train(_gpt(), data, steps=10, batch_size=3, lr=1e-3, eval_interval=4, device="cpu")
    assert isinstance(history, History)
    assert history.steps == list(range(1, 11)) and len(history.train_loss) == 10
    assert history.val_steps == [0, 4, 8, 10]  # before training, every 4 steps, and after the last
    assert len(history.val_loss) == 4
    assert history.tokens_seen == 10 * 3 * 16
    assert history.wall_time_s > 0 and history.world_size == 1


def test_first_train_loss_is_the_untrained_models_loss_on_the_first_seeded_batch(data: TextData) -> None:
    model = _gpt()
    before = copy.deepcopy(model)
    history = train(model, data, steps=1, batch_size=4, lr=1e-3, seed=5, device="cpu")
    x, y = data.get_batch("train", 4, generator=torch.Generator().manual_seed(5))
    _, loss = before(x, y)
    assert history.train_loss[0] == pytest.approx(loss.item(), rel=1e-6)


@pytest.mark.slow
def test_untrained_loss_is_near_uniform_and_training_lowers_it(data: TextData) -> None:
    history = train(_gpt(), data, steps=40, batch_size=8, lr=1e-2, device="cpu")
    # GPT-2 init gives almost flat logits: cross-entropy close to ln(256), a uniform guess over bytes
    assert abs(history.val_loss[0] - math.log(256)) < 0.05
    assert history.val_loss[-1] < history.val_loss[0] - 1.5


def test_schedule_warms_up_linearly_then_follows_a_cosine() -> None:
    kw = {"lr": 2.0, "steps": 110, "warmup_steps": 10, "min_lr": 0.2}
    assert [lr_at(s, **kw) for s in range(10)] == pytest.approx([0.2 * (s + 1) for s in range(10)])
    assert lr_at(10, **kw) == pytest.approx(2.0)  # the peak, right after warmup
    assert lr_at(60, **kw) == pytest.approx(1.1)  # half way through the decay: (lr + min_lr) / 2
    assert lr_at(109, **kw) == pytest.approx(0.2 + 0.9 * (1 + math.cos(math.pi * 99 / 100)))
    decay = [lr_at(s, **kw) for s in range(10, 110)]
    assert all(a > b for a, b in itertools.pairwise(decay)) and min(decay) > 0.2


def test_lr_at_holds_min_lr_past_the_schedule() -> None:
    # Past the last step the cosine must not climb back: cos(pi * 1.5) = 0 would give (lr + min_lr) / 2.
    kw = dict(lr=1.0, steps=10, warmup_steps=0, min_lr=0.0)
    assert lr_at(9, **kw) > 0
    assert [lr_at(s, **kw) for s in (10, 15, 20, 1000)] == [0.0, 0.0, 0.0, 0.0]
    assert lr_at(15, lr=1.0, steps=10, warmup_steps=2, min_lr=0.1) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        lr_at(-1, **kw)


@pytest.mark.slow
def test_history_lr_is_the_schedule(data: TextData) -> None:
    history = train(_gpt(), data, steps=20, batch_size=2, lr=1e-3, warmup_steps=5, device="cpu")
    expected = [lr_at(s, lr=1e-3, steps=20, warmup_steps=5, min_lr=1e-4) for s in range(20)]
    assert history.lr == pytest.approx(expected)


class _ZeroGrad(nn.Module):
    """A 'model' whose loss has zero gradient: AdamW's step is then weight decay alone."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 4)  # a 4x3 matrix and a bias vector
        self.norm = nn.LayerNorm(4)
        with torch.no_grad():
            self.norm.weight.fill_(1.5)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        params = sum(p.sum() for p in self.parameters())
        return idx.float(), params * 0.0


def test_weight_decay_applies_to_matrices_only(data: TextData) -> None:
    model = _ZeroGrad()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, data, steps=1, batch_size=2, lr=0.1, weight_decay=0.5, warmup_steps=0, device="cpu")
    after = model.state_dict()
    # decoupled decay (Loshchilov & Hutter): w <- w - lr * wd * w, with a zero gradient's Adam step of 0
    torch.testing.assert_close(after["lin.weight"], before["lin.weight"] * (1 - 0.1 * 0.5))
    for name in ("lin.bias", "norm.weight", "norm.bias"):
        assert torch.equal(after[name], before[name]), name


def test_gradient_clipping_uses_the_given_norm(data: TextData, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(params: object, max_norm: float, *args: object, **kwargs: object) -> torch.Tensor:
        calls.append(max_norm)
        return original(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    train(_gpt(), data, steps=3, batch_size=2, lr=1e-3, grad_clip=0.5, device="cpu")
    assert calls == [0.5, 0.5, 0.5]
    calls.clear()
    train(_gpt(), data, steps=3, batch_size=2, lr=1e-3, grad_clip=None, device="cpu")
    assert calls == []


def test_training_restores_the_train_eval_mode(data: TextData) -> None:
    model = _gpt().eval()
    train(model, data, steps=1, batch_size=2, lr=1e-3, device="cpu")
    assert not model.training


def test_silent_unless_asked(data: TextData, capsys: pytest.CaptureFixture[str]) -> None:
    train(_gpt(), data, steps=3, batch_size=2, lr=1e-3, device="cpu")
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    train(_gpt(), data, steps=3, batch_size=2, lr=1e-3, device="cpu", progress=True)
    err = capsys.readouterr().err
    assert "step 3/3" in err and err.endswith("\n")


@pytest.mark.slow
def test_an_lstm_trains_on_the_recall_task_through_the_same_loop() -> None:
    task = RecallTask(distances=(1,), n_symbols=4, seq_len=4, n_queries=2)
    torch.manual_seed(0)
    model = LSTM(LSTMConfig(vocab_size=task.vocab_size, n_embd=16, n_hidden=32))
    history = train(model, task, steps=30, batch_size=32, lr=3e-2, eval_interval=30, device="cpu")
    # untrained: about ln 5 = 1.61 (5 token ids, near-uniform guesses); trained: recalls the last symbol
    assert history.val_loss[0] > 1.2 and history.val_loss[-1] < 0.3


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": -5}, "steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -1}, "batch_size"),
        ({"lr": 0}, "lr"),
        ({"lr": -1e-3}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"eval_interval": 0}, "eval_interval"),
        ({"eval_batches": 0}, "eval_batches"),
        ({"warmup_steps": 10}, "warmup_steps"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"min_lr": 1.0}, "min_lr"),
        ({"min_lr": -1.0}, "min_lr"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"grad_clip": 0}, "grad_clip"),
        ({"betas": (0.9, 1.0)}, r"betas\[1\]"),
        ({"betas": (0.9,)}, "betas"),
        ({"seed": -1}, "seed"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments_name_the_parameter(data: TextData, kwargs: dict, name: str) -> None:
    args = {"steps": 10, "batch_size": 2, "lr": 1e-3, "device": "cpu", **kwargs}
    with pytest.raises(ValueError, match=f"^{name}"):
        train(_gpt(), data, **args)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"steps": 2.5}, "steps"),
        ({"batch_size": "8"}, "batch_size"),
        ({"lr": "3e-3"}, "lr"),
        ({"warmup_steps": 1.0}, "warmup_steps"),
        ({"seed": 1.5}, "seed"),
        ({"betas": 0.9}, "betas"),
        ({"progress": "yes"}, "progress"),
    ],
)
def test_arguments_of_the_wrong_kind_are_type_errors(data: TextData, kwargs: dict, name: str) -> None:
    args = {"steps": 10, "batch_size": 2, "lr": 1e-3, "device": "cpu", **kwargs}
    with pytest.raises(TypeError, match=f"^{name}"):
        train(_gpt(), data, **args)


def test_a_diverging_run_stops_at_the_first_non_finite_loss(data: TextData) -> None:
    model = _gpt()
    steps_run: list[int] = []
    model.register_forward_pre_hook(lambda module, args: steps_run.append(1) if module.training else None)
    with pytest.raises(
        FloatingPointError, match=r"^the training loss is (nan|inf) at step (\d+) of 50: .*lr"
    ):
        train(model, data, steps=50, batch_size=2, lr=1e10, warmup_steps=0, grad_clip=None, device="cpu")
    assert len(steps_run) < 50  # it stopped, and did not train on for the remaining steps
    assert model.training  # the mode was restored on the way out


def test_a_run_whose_last_update_breaks_the_weights_fails_at_the_validation_loss(data: TextData) -> None:
    # one step: the training loss is that of the untrained model (finite); the update then blows up
    with pytest.raises(FloatingPointError, match=r"^the validation loss is (nan|inf) after 1 of 1 steps"):
        train(_gpt(), data, steps=1, batch_size=2, lr=1e10, warmup_steps=0, grad_clip=None, device="cpu")


def test_bad_model_or_data(data: TextData) -> None:
    with pytest.raises(TypeError, match="model"):
        train("gpt", data, steps=1, batch_size=1, lr=1e-3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="data"):
        train(_gpt(), [1, 2, 3], steps=1, batch_size=1, lr=1e-3)  # type: ignore[arg-type]
    # The data's windows (32 tokens) are longer than the model's context (16): the model says so, once.
    with pytest.raises(ValueError, match=r"idx has 32 positions, more than block_size=16"):
        train(_gpt(), corpus_data(block_size=32), steps=1, batch_size=1, lr=1e-3)


def test_batch_size_must_divide_among_processes(data: TextData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="batch_size=3 must be divisible by the number of processes"):
        train(_gpt(), data, steps=1, batch_size=3, lr=1e-3, device="cpu")


# ---------------------------------------------------------------- llmguide train (CLI)

TINY_FLAGS = ["--block-size", "16", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--device", "cpu"]


def test_cli_trains_and_writes_a_checkpoint_that_loads(tmp_path, cli) -> None:
    from llmguide.checkpoint import load_checkpoint

    out = tmp_path / "ckpt" / "tiny.pt"
    result = cli("train", "--out", str(out), "--steps", "4", "--batch-size", "2", "--seed", "1", *TINY_FLAGS)
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    E, V, T = 16, 256, 16
    n_params = (
        V * E + T * E + (12 * E * E + 13 * E) + 2 * E
    )  # embeddings, one block (weights, biases, norms), ln_f
    assert lines[0] == f"model: GPT, {n_params:,} parameters, block size 16"
    assert lines[1] == "trained 4 steps on 128 tokens"
    assert lines[2].startswith("validation loss: 5.5") and lines[3] == f"saved {out}"
    model = load_checkpoint(out, device="cpu")
    assert model.config == GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16)
    assert model.num_params() == n_params


def test_cli_trains_on_a_text_file(tmp_path, cli) -> None:
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    out = tmp_path / "t.pt"
    result = cli(
        "train", "--out", str(out), "--text", str(text), "--steps", "2", "--batch-size", "2", *TINY_FLAGS
    )
    assert result.status == 0, result.err
    assert out.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "0"], "--steps must be an integer >= 1"),
        (["--batch-size", "-2"], "--batch-size must be an integer >= 1"),
        (["--lr", "0"], "--lr must be a finite number > 0"),
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--n-head", "3"], "--n-embd must be divisible by --n-head, got --n-embd=16 and --n-head=3"),
        (["--n-embd", "0"], "--n-embd must be an integer >= 1"),
        (["--n-layer", "0"], "--n-layer must be an integer >= 1"),
        (["--block-size", "0"], "--block-size must be an integer >= 1"),
        (["--dropout", "1.5"], "--dropout must be a finite number in [0, 1)"),
        (["--seed", "-1"], "--seed must be an integer in [0, "),
        (["--seed", str(10**30)], "--seed must be an integer in [0, "),  # not "Overflow when unpacking"
        (["--device", "tpu"], "--device must be one of"),
        (["--text", "/nonexistent/file.txt"], "--text: cannot read"),
        (["--steps", "2.5"], "argument --steps: invalid int value"),
    ],
)
def test_cli_bad_flags_exit_2_with_the_flag_named(tmp_path, cli, flags: list[str], message: str) -> None:
    result = cli("train", "--out", str(tmp_path / "x.pt"), "--steps", "1", *TINY_FLAGS, *flags)
    assert result.status == 2
    line = result.fails_naming(message.split()[0].split(":")[0].removeprefix("argument"))
    assert line.startswith(f"llmguide train: error: {message}")
    assert not (tmp_path / "x.pt").exists()


def test_cli_rejects_a_text_too_short_for_the_block(tmp_path, cli) -> None:
    text = tmp_path / "short.txt"
    text.write_text("far too short", encoding="utf-8")
    result = cli("train", "--out", str(tmp_path / "x.pt"), "--text", str(text), *TINY_FLAGS)
    assert "--text: the file is too short for --block-size 16" in result.fails_naming("--text")


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record calls of `llmguide.train.train` without training: what `--out` checks must run before."""
    import llmguide.train

    calls: list[object] = []
    monkeypatch.setattr(llmguide.train, "train", lambda *args, **kwargs: calls.append(args))
    return calls


def test_cli_checks_out_before_training(tmp_path, cli, no_training: list[object]) -> None:
    # the example: an existing directory used to be found out only by the save, after training
    folder = tmp_path / "runs"
    folder.mkdir()
    result = cli("train", "--out", str(folder), *TINY_FLAGS)
    assert result.status == 2
    assert "is a directory" in result.fails_naming("--out")
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    result = cli("train", "--out", str(blocker / "tiny.pt"), *TINY_FLAGS)
    assert result.status == 2
    assert "is not a directory" in result.fails_naming("--out")
    assert no_training == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "runs"]  # nothing was created


def test_cli_stops_a_diverging_run_and_saves_nothing(tmp_path, cli) -> None:
    # the example: --lr 1e10 saved a model of NaNs and exited 0
    out = tmp_path / "nan.pt"
    result = cli(
        "train", "--out", str(out), "--steps", "20", "--batch-size", "2", "--lr", "1e10", *TINY_FLAGS
    )
    assert result.status == 1
    line = result.fails_naming("--lr")
    assert "training diverged" in line and ("nan" in line or "inf" in line)
    assert result.out == "" and not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_a_failed_save_leaves_no_partial_file(tmp_path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import llmguide.checkpoint

    def disk_full(payload: object, path: object) -> None:
        with open(path, "wb") as f:  # type: ignore[call-overload]
            f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(llmguide.checkpoint.torch, "save", disk_full)
    out = tmp_path / "tiny.pt"
    result = cli("train", "--out", str(out), "--steps", "1", "--batch-size", "1", *TINY_FLAGS)
    assert result.status != 0
    assert "No space left on device" in result.fails_naming("--out")
    assert list(tmp_path.iterdir()) == []


def test_the_device_is_resolved_once_per_run_not_once_per_step(data: TextData, monkeypatch) -> None:
    import llmguide.device

    calls = []
    real = llmguide.device.resolve_device

    def counting(device: object = None) -> torch.device:
        calls.append(device)
        return real(device)

    monkeypatch.setattr(llmguide.device, "resolve_device", counting)
    counts = []
    for steps in (2, 6):
        calls.clear()
        train(_gpt(), data, steps=steps, batch_size=2, lr=1e-3, device="cpu")
        counts.append(len(calls))
    assert counts[0] == counts[1], counts  # a few while setting up (train, precision, scaler), none per step
