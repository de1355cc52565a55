"""Blocks: a recurrent layer with what a model puts around it.

- `SLSTMBlock`: the official xLSTM's sLSTM layer (causal convolution,
  per-head projections, the sLSTM, per-head group norm), with the residual
  pre-norm and gated feed-forward of its `xLSTMBlock` as options.
"""

from keras_gates.blocks.slstm_block import SLSTMBlock

__all__ = ["SLSTMBlock"]
