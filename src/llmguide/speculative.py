"""Speculative decoding: a small draft model guesses, the target model checks several guesses in one pass.

Decoding one token at a time reads every weight of the target model per token, so on a memory-bound
machine the time per token is about the time to read the weights, whatever the arithmetic. Speculative
decoding (Leviathan, Kalman and Matias 2023, https://arxiv.org/abs/2211.17192; Chen et al. 2023,
https://arxiv.org/abs/2302.01318) spends that read on several tokens:

1. The draft, a much smaller model, proposes `k` tokens one by one, sampling each from its distribution `q`.
2. The target runs once over the `k` guesses (one `GPT.step` of `k + 1` positions, `all_logits=True`) and
   gets its own distribution `p` after each prefix.
3. Guess `x` is kept with probability `min(1, p(x) / q(x))`, in order, until one is rejected. A rejected
   position draws instead from `max(0, p - q)`, renormalised; if all `k` are kept, one more token is drawn
   from `p` after the last. Either way a round adds between 1 and `k + 1` tokens.

The rule makes every token follow the target's distribution exactly, whatever the draft (the papers prove
it; `tests/test_speculative.py` checks it with a chi-square test). With `temperature=0` both distributions
are one-hot, a guess is kept when it is the target's argmax, and the output is the target's greedy output.

`speculative_generate` is built on `llmguide.generation`: the same checks (`check_generate_args`, for the
target and for the draft), the same sampling options (`llmguide.sampling.sampling_probs`, `sample`) and the
model's cache interface (`GPT.step` on a `KVCache`, cropped back after a rejection with `KVCache.crop`).
It runs one sequence, within both models' windows.

For example, greedy speculative decoding gives the target's greedy tokens:

```python
import torch
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig
from llmguide.speculative import speculative_generate

torch.manual_seed(0)
target = GPT(GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32))
draft = GPT(GPTConfig(block_size=32, n_layer=1, n_head=1, n_embd=16))
prompt = torch.tensor([list(b"ab")])
out, stats = speculative_generate(target, draft, prompt, 12, draft_len=3, temperature=0)
print(torch.equal(out, generate(target, prompt, 12, temperature=0)), stats.new_tokens)
#> True 12
```
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from llmguide.generation import check_generate_args
from llmguide.model import GPT, KVCache
from llmguide.sampling import sample
from llmguide.validate import check_int

__all__ = ["SpeculativeStats", "speculative_generate"]


@dataclass
class SpeculativeStats:
    """What a speculative run did.

    Attributes:
        rounds: target passes after the prompt's (one per round: it verifies the round's guesses).
        proposed: draft tokens proposed.
        accepted: draft tokens the target kept.
        new_tokens: tokens generated.
    """

    rounds: int = 0
    proposed: int = 0
    accepted: int = 0
    new_tokens: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Fraction of the proposed tokens that were kept (0 when none was proposed)."""
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def tokens_per_round(self) -> float:
        """New tokens per target pass: 1 for plain decoding, up to `draft_len + 1` here."""
        return self.new_tokens / self.rounds if self.rounds else 0.0


def speculative_generate(
    target: GPT,
    draft: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    draft_len: int = 4,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, SpeculativeStats]:
    """Sample `max_new_tokens` tokens from `target`, with `draft` proposing `draft_len` tokens per round.

    The tokens follow the distribution that `llmguide.generation.generate(target, ...)` samples from with the
    same options (not the same draws: the random numbers are used differently); with `temperature=0` they are
    `generate`'s greedy tokens. Both models are in eval mode meanwhile and are put back after.

    Args:
        target: the model whose distribution the output follows.
        draft: the proposing model: the same vocabulary, usually far smaller.
        idx: the prompt, an integer tensor of shape `(1, T)`.
        max_new_tokens: number of tokens to add, `>= 0`; `T + max_new_tokens` must fit both models'
            `block_size`.
        draft_len: tokens the draft proposes per round, `>= 1`.
        temperature: as `llmguide.sampling.sample`; 0 is greedy.
        top_k: as `sample`.
        top_p: as `sample`.
        min_p: as `sample`.
        generator: a seeded `torch.Generator` on the models' device makes the run reproducible.

    Returns:
        `(ids, stats)`: token ids of shape `(1, T + max_new_tokens)`, and a `SpeculativeStats`.

    Raises:
        TypeError: as `llmguide.generation.check_generate_args`, for either model; `draft_len` is not an
            integer.
        ValueError: as `check_generate_args`; the vocabularies differ; `idx` has more than one row; the
            sequence would not fit a model's window; `draft_len < 1`.
    """
    options = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
    for model in (target, draft):
        sampling = check_generate_args(model, idx, max_new_tokens, generator=generator, **options)
    check_int("draft_len", draft_len, minimum=1)
    if draft.config.vocab_size != target.config.vocab_size:
        raise ValueError(
            f"draft has vocab_size={draft.config.vocab_size}, target has {target.config.vocab_size}: they "
            "must share the vocabulary"
        )
    if idx.size(0) != 1:
        raise ValueError(f"idx must hold one sequence, shape (1, T), got {tuple(idx.shape)}")
    window = min(target.config.block_size, draft.config.block_size)
    if idx.size(1) + max_new_tokens > window:
        raise ValueError(
            f"the prompt ({idx.size(1)} tokens) and max_new_tokens={max_new_tokens} must fit both models' "
            f"block_size ({window})"
        )
    probs = sampling.probs  # the options, checked once above, for every distribution of the run
    device = target.lm_head.weight.device
    stats = SpeculativeStats()
    seq = idx[0].tolist()
    end = len(seq) + max_new_tokens
    training = [model for model in (target, draft) if model.training]
    for model in training:  # eval() walks every module: only where needed
        model.eval()
    try:
        with torch.no_grad():
            t_cache = KVCache(target.config.n_layer, target.config.block_size)
            d_cache = KVCache(draft.config.n_layer, draft.config.block_size)

            def feed(model: GPT, cache: KVCache, tokens: list[int], **kw: bool) -> torch.Tensor:
                """The tokens not yet in `cache`, through `model`: the logits after them."""
                new = torch.tensor([tokens[cache.length :]], dtype=idx.dtype, device=device)
                return model.step(new, cache, **kw)[0]

            def draw(p: torch.Tensor) -> int:
                return int(sample(p.log()[None], generator=generator)[0])

            while len(seq) < end:
                k = min(draft_len, end - len(seq) - 1)  # a round adds up to k + 1 tokens
                guesses: list[int] = []
                qs = []
                for _ in range(k):  # 1. the draft proposes, one token at a time
                    q = probs(feed(draft, d_cache, seq + guesses))
                    guesses.append(draw(q))
                    qs.append(q)
                # 2. the target's distributions after seq and after each guess, in one pass
                ps = probs(feed(target, t_cache, seq + guesses, all_logits=True)[-(k + 1) :])
                kept = 0  # 3. keep each guess with probability min(1, p / q), in order
                for i, x in enumerate(guesses):
                    u = torch.rand((), generator=generator, device=device)
                    if bool(u * qs[i][x] < ps[i, x]):
                        kept += 1
                    else:
                        break
                if kept < k:  # the first rejected position: draw from max(0, p - q), renormalised
                    residual = (ps[kept] - qs[kept]).clamp(min=0)
                    extra = draw(residual if bool(residual.sum() > 0) else ps[kept])
                else:  # every guess kept: one more token from the target's last distribution
                    extra = draw(ps[k])
                seq += [*guesses[:kept], extra]
                # the caches keep the sequence but its newest token, which the next round feeds
                t_cache.crop(len(seq) - 1)
                d_cache.crop(min(d_cache.length, len(seq) - 1))
                stats.rounds += 1
                stats.proposed += k
                stats.accepted += kept
    finally:
        for model in training:
            model.train()
    stats.new_tokens = max_new_tokens
    return torch.tensor([seq], dtype=idx.dtype, device=device), stats
