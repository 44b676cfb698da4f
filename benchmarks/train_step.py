"""Training-step throughput of llmguide's GPT against a nanoGPT-style model of the same shape, on the CPU.

One step = forward with loss, backward, AdamW step, on a batch of 16 sequences of 256 byte tokens (vocab 256),
for n_layer=4, n_head=4, n_embd=128. The baseline below is the structure of Karpathy's nanoGPT `model.py`
(MIT licence), written out here so that the comparison needs nothing else installed; both models get the same
data and the same optimizer (nanoGPT's `configure_optimizers`: weight decay on matrices only, betas
(0.9, 0.95)). The two models run in alternating rounds, so that load from other programs on the machine hits
both alike; the table gives the median over rounds.

    .venv/bin/python benchmarks/train_step.py            # the issue's shape
    .venv/bin/python benchmarks/train_step.py --rounds 3 --steps 2 --batch-size 4   # a quick check
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from llmguide.model import GPT, GPTConfig

# ----------------------------------------------------------------------------------------------------------
# The baseline: nanoGPT's model.py structure (LayerNorm with optional bias, fused QKV, SDPA flash attention,
# 4x GELU MLP, pre-LN blocks, tied head, GPT-2 init with scaled residual projections).
# ----------------------------------------------------------------------------------------------------------


class LayerNorm(nn.Module):
    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class NanoAttention(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.attn_dropout = nn.Dropout(c.dropout)
        self.resid_dropout = nn.Dropout(c.dropout)
        self.n_head, self.n_embd, self.dropout = c.n_head, c.n_embd, c.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class NanoMLP(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class NanoBlock(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(c.n_embd, bias=c.bias)
        self.attn = NanoAttention(c)
        self.ln_2 = LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = NanoMLP(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.config = c
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(c.vocab_size, c.n_embd),
                wpe=nn.Embedding(c.block_size, c.n_embd),
                drop=nn.Dropout(c.dropout),
                h=nn.ModuleList([NanoBlock(c) for _ in range(c.n_layer)]),
                ln_f=LayerNorm(c.n_embd, bias=c.bias),
            )
        )
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


# ----------------------------------------------------------------------------------------------------------
# The measurement
# ----------------------------------------------------------------------------------------------------------


def make_optimizer(model: nn.Module, lr: float = 6e-4, fused: bool = False) -> torch.optim.Optimizer:
    """nanoGPT's configure_optimizers: decay 2-D tensors (matrices, embeddings), not biases and norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=fused or None)


def time_steps(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int
) -> tuple[float, float]:
    """Wall-clock and CPU seconds per training step, averaged over `steps` steps.

    The CPU time (all threads of this process) is less inflated than the wall time when other programs
    compete for the cores, so its ratio is the steadier one on a shared machine.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7, help="alternating timing rounds (median reported)")
    parser.add_argument("--steps", type=int, default=5, help="steps per model per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    parser.add_argument(
        "--fused-adamw", action="store_true", help="use the fused AdamW kernel for both models"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=256, block_size=args.block_size, n_layer=4, n_head=4, n_embd=128)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.batch_size, args.block_size), generator=g)
    y = torch.randint(0, 256, (args.batch_size, args.block_size), generator=g)
    models = {"nanoGPT-style baseline": NanoGPT(config), "llmguide GPT": GPT(config)}
    n_params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    assert len(set(n_params.values())) == 1, n_params  # same shape, same parameter count
    opts = {name: make_optimizer(m, fused=args.fused_adamw) for name, m in models.items()}
    for name, m in models.items():
        m.train()
        time_steps(m, opts[name], x, y, args.warmup)

    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            w, c = time_steps(models[name], opts[name], x, y, args.steps)
            wall[name].append(w)
            cpu[name].append(c)

    tokens = args.batch_size * args.block_size
    base_wall = statistics.median(wall["nanoGPT-style baseline"])
    base_cpu = statistics.median(cpu["nanoGPT-style baseline"])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size} x "
        f"{args.block_size} tokens, {n_params['llmguide GPT']:,} parameters, AdamW "
        f"{'fused' if args.fused_adamw else 'default (for-each)'}; median of {args.rounds} rounds x {args.steps} steps"
    )
    print(
        f"{'model':<24}{'ms/step':>9}{'min':>8}{'max':>8}{'tokens/s':>10}{'vs baseline':>13}"
        f"{'CPU ms/step':>13}{'CPU vs baseline':>17}"
    )
    for name in models:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"{name:<24}{w * 1e3:>9.1f}{min(wall[name]) * 1e3:>8.1f}{max(wall[name]) * 1e3:>8.1f}"
            f"{tokens / w:>10,.0f}{w / base_wall:>13.3f}{c * 1e3:>13.1f}{c / base_cpu:>17.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
