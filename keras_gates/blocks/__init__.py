"""Blocks: a recurrent layer with what a model puts around it.

- `SLSTMBlock`: the official xLSTM's sLSTM layer (causal convolution,
  per-head projections, the sLSTM, per-head group norm), with the residual
  pre-norm and gated feed-forward of its `xLSTMBlock` as options.
- `MLSTMBlock`: the official xLSTM's mLSTM layer (up-projection, causal
  convolution, block-diagonal q, k, v, the mLSTM, per-head group norm,
  learnable skip, SiLU output gate, down-projection), with the residual
  pre-norm of its `xLSTMBlock` as an option.
"""

from keras_gates.blocks.mlstm_block import MLSTMBlock
from keras_gates.blocks.slstm_block import SLSTMBlock

__all__ = ["MLSTMBlock", "SLSTMBlock"]
