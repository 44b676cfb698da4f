"""llmguide: the package behind an executable guide to how large language models work.

Each module has one job and is imported by the chapter that explains it:

- `llmguide.sampling`: softmax with temperature, top-k / top-p / min-p filtering, sampling.
- `llmguide.model`: a small GPT-style transformer (CPU, CUDA and MPS).
- `llmguide.sizing`: memory needed to deploy and to train a model.
- `llmguide.scaling`: training FLOPs and the Chinchilla scaling laws.
- `llmguide.prompts`: zero-shot and few-shot prompt builders.

Importing `llmguide` itself is cheap; import the submodule you need.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
