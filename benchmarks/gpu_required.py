"""The refusal the GPU benchmarks share: one line on stderr and exit status 2 where no CUDA GPU is found.

The scripts of this folder import it as they import `nanogpt` (a script run as `python benchmarks/x.py` has
this folder on its path):

```python
from gpu_required import refuse_without_cuda

if refuse_without_cuda("decode_gpu.py", wanted="cuda"):
    ...  # return 2
```
"""

from __future__ import annotations

import sys

import torch


def refuse_without_cuda(script: str, *, wanted: str = "cuda") -> bool:
    """True, after saying so on stderr, when `wanted` is CUDA and this machine has no CUDA GPU.

    Args:
        script: the script's file name, for the message.
        wanted: the device the run asked for; only `"cuda"` can be refused.

    Returns:
        Whether the script must stop (with exit status 2).
    """
    if wanted != "cuda" or torch.cuda.is_available():
        return False
    print(
        f"{script} needs a CUDA GPU and none is available here; run with --smoke to check the script on the CPU.",
        file=sys.stderr,
    )
    return True
