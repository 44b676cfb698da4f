"""llmguide's GPT decodes the same greedy tokens as Hugging Face's GPT2LMHeadModel holding the same weights.

The independent truth is `transformers`' GPT-2 (`Conv1D` layers, its own attention and cache). The weights
are random (nothing is downloaded) and wide (std 0.1, as tests/tinygpt.py explains), at a small shape, with
the exact GELU (`activation_function="gelu"`), which is llmguide's. `benchmarks/decode_hf.py` makes the same
check at GPT-2 small's shape before timing both.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import transformers  # a test dependency: a broken install must fail here, not skip

from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig

# The conversion of a GPT2LMHeadModel state dict to GPT's layouts, from the benchmark that times the two.
_spec = importlib.util.spec_from_file_location(
    "decode_hf", Path(__file__).parents[1] / "benchmarks" / "decode_hf.py"
)
decode_hf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(decode_hf)


def pair(seed: int = 0) -> tuple[torch.nn.Module, GPT]:
    config = transformers.GPT2Config(
        vocab_size=97, n_positions=32, n_embd=48, n_layer=3, n_head=4, activation_function="gelu"
    )
    torch.manual_seed(seed)
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.normal_(0.0, 0.1)
    hf.generation_config.eos_token_id = None
    hf.generation_config.pad_token_id = 0
    ours = GPT(GPTConfig(vocab_size=97, block_size=32, n_layer=3, n_head=4, n_embd=48)).eval()
    ours.load_state_dict(decode_hf.hf_state_dict_to_gpt(hf.state_dict()))
    return hf, ours


@pytest.mark.parametrize("batch", [1, 3])
def test_greedy_tokens_equal_hugging_face_generate(batch: int) -> None:
    hf, ours = pair()
    prompt = torch.randint(97, (batch, 5), generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        theirs = hf.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=20,
            min_new_tokens=20,
            do_sample=False,
            use_cache=True,
        )
        assert torch.allclose(ours(prompt)[0], hf(prompt).logits, atol=1e-4)
    assert torch.equal(generate(ours, prompt, 20, temperature=0), theirs)
    # the weights are not all alike: another seed's model decodes other tokens
    assert not torch.equal(generate(pair(seed=1)[1], prompt, 20, temperature=0), theirs)
