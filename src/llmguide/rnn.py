"""An LSTM language model: the recurrent baseline that transformers replaced.

`LSTM` has the same interface as `llmguide.model.GPT`: `forward(idx, targets=None) -> (logits, loss)` with
logits for every position, so the same training loop and the same evaluation code serve both. Its recurrence
is the point of comparison: to read T tokens it applies its cell T times, each step waiting for the previous
one's state, where a transformer block processes all T positions at once. `LSTM.step` exposes one such
step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmguide.model import IGNORE_INDEX, check_targets
from llmguide.validate import check_instance, check_int, check_real, check_token_ids


@dataclass
class LSTMConfig:
    """Sizes of an `LSTM` language model.

    Attributes:
        vocab_size: number of token ids the model accepts and predicts.
        n_embd: width of the token embedding fed to the first layer.
        n_hidden: width of each layer's hidden and cell state (the fixed-size memory).
        n_layer: number of stacked LSTM layers.
        dropout: dropout probability on the embedding, between layers and before the head, in [0, 1).

    Raises:
        TypeError: a size is not an integer, or `dropout` is not a number.
        ValueError: a size is below 1, or `dropout` is outside [0, 1).
    """

    vocab_size: int = 256
    n_embd: int = 64
    n_hidden: int = 128
    n_layer: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_embd", "n_hidden", "n_layer"):
            check_int(name, getattr(self, name), minimum=1)
        check_real("dropout", self.dropout, minimum=0, maximum=1, max_open=True)


class LSTM(nn.Module):
    """Token embedding, a stack of LSTM layers, and a linear head to next-token logits.

    For example:

    ```python
    import torch
    from llmguide.rnn import LSTM, LSTMConfig

    torch.manual_seed(0)
    model = LSTM(LSTMConfig(vocab_size=10, n_embd=8, n_hidden=16))
    idx = torch.tensor([[1, 2, 3, 4]])
    logits, loss = model(idx, targets=torch.tensor([[2, 3, 4, 5]]))
    print(tuple(logits.shape), model.num_params())
    #> (1, 4, 10) 1914
    ```
    """

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = check_instance("config", config, LSTMConfig, "an LSTMConfig")
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.n_embd,
            config.n_hidden,
            num_layers=config.n_layer,
            batch_first=True,
            dropout=config.dropout if config.n_layer > 1 else 0.0,
        )
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)

    def num_params(self) -> int:
        """Return the number of trainable parameters (weights and biases)."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return next-token logits for every position and, if `targets` is given, the mean cross-entropy.

        Args:
            idx: token ids, int64 or int32, of shape `(batch, time)` with both at least 1.
            targets: the next token at every position, same shape as `idx`; positions holding
                `llmguide.model.IGNORE_INDEX` (-1) are left out of the loss.

        Returns:
            `(logits, loss)`: logits of shape `(batch, time, vocab_size)` and the loss in nats per token
            (None without targets).

        Raises:
            TypeError: `idx` or `targets` is not an int64 or int32 tensor.
            ValueError: `idx` is not 2-D, has an empty axis or holds an id outside the vocabulary; `targets`
                has another shape, or holds an id outside the vocabulary other than `IGNORE_INDEX`.
            RuntimeError: on an accelerator, an id outside the vocabulary fails when the device is next
                waited for (the check is queued on the device, without a host sync).
        """
        # values checked on the device, without a host sync (see `llmguide.validate.check_token_ids`)
        check_token_ids("idx", idx, vocab_size=self.config.vocab_size, sync=False)
        if targets is not None:
            check_targets(targets, idx, self.config.vocab_size, sync=False)
        x = self.drop(self.wte(idx))
        h, _ = self.lstm(x)
        logits = self.lm_head(self.drop(h))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1).long(), ignore_index=IGNORE_INDEX
        )
        return logits, loss

    def step(
        self, token: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Read one token per sequence and return the logits for the next one and the new state.

        Calling `step` T times in a row gives the same logits as `forward` on the T tokens: this is the
        recurrence made explicit, one dependent step per token.

        For example:

        ```python
        import torch
        from llmguide.rnn import LSTM, LSTMConfig

        torch.manual_seed(0)
        model = LSTM(LSTMConfig(vocab_size=10, n_embd=8, n_hidden=16))
        idx = torch.tensor([[1, 2, 3, 4]])
        state = None
        for t in range(idx.size(1)):
            logits, state = model.step(idx[:, t], state)
        print(torch.allclose(logits, model(idx)[0][:, -1], atol=1e-6))
        #> True
        ```

        Args:
            token: int64 or int32 tensor of shape `(batch,)`, batch at least 1.
            state: `(h, c)` from the previous step, each `(n_layer, batch, n_hidden)`; None starts from zeros.

        Returns:
            `(logits, state)`: logits of shape `(batch, vocab_size)` and the updated `(h, c)`.

        Raises:
            TypeError: `token` is not an int64 or int32 tensor.
            ValueError: `token` is not 1-D (one token per sequence), is empty, or holds an id outside the
                vocabulary.
        """
        check_token_ids("token", token, vocab_size=self.config.vocab_size, dim=1)
        x = self.drop(self.wte(token[:, None]))
        h, state = self.lstm(x, state)
        return self.lm_head(self.drop(h[:, 0])), state
