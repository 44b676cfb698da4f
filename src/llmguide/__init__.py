"""llmguide: the package behind an executable guide to how large language models work.

Each module has one job and is imported by the chapter that explains it:

- `llmguide.sampling`: softmax with temperature, top-k / top-p / min-p filtering, sampling.
- `llmguide.model`: a small GPT-style transformer with a KV cache and a one-step interface (CPU, CUDA and MPS).
- `llmguide.generation`: the generation loop every path shares (window, cache refill, stopping), `generate`.
- `llmguide.decode`: a static KV cache and a decode step replayed as a CUDA graph (`generate_fast`).
- `llmguide.device`: picking the device and the mixed-precision settings for it.
- `llmguide.data`: the byte-level tokenizer, the shipped corpus (`llmguide/corpus/`), batching.
- `llmguide.rnn`: an LSTM language model with the same interface as the GPT.
- `llmguide.tasks`: synthetic training tasks: long-range recall, and few-shot episodes for in-context learning.
- `llmguide.train`: the training loop (AdamW, warmup + cosine, DistributedDataParallel under torchrun).
- `llmguide.evaluate`: measuring a model: bits per byte, held-out loss, multiple-choice scores, intervals,
  calibration and contamination checks.
- `llmguide.checkpoint`: saving and loading a model's config and weights.
- `llmguide.sizing`: memory needed to deploy and to train a model.
- `llmguide.scaling`: training FLOPs and the Chinchilla scaling laws.
- `llmguide.prompts`: zero-shot and few-shot prompt builders (plain strings, no torch).
- `llmguide.figures`: saving the figures the pages draw.
- `llmguide.validate`: the argument checks every public function uses (TypeError for the wrong kind of value,
  ValueError for the wrong range).
- `llmguide.cli`: the `llmguide` command.

Importing `llmguide` itself is cheap; import the submodule you need.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
