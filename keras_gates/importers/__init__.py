"""Importers of trained weights from the reference implementations.

Each returns built keras-gates layers that compute what the original
computed, from its weights as NumPy arrays or as tensors of the original
framework (anything with `.numpy()`, or a PyTorch tensor, is read through
NumPy; no framework is imported here):

- `from_tf1_lstm_cell`: TF1's `tf.compat.v1.nn.rnn_cell.LSTMCell` (also
  with `use_peepholes`, `num_proj`, `cell_clip` and `proj_clip`), from its
  variables; `from_tf1_checkpoint` reads them from a TF1 checkpoint.
- `from_sru`: the official `sru.SRU` (uni- or bidirectional, any number of
  layers, `rescale`, `has_skip_term`, `layer_norm`, `normalize_after`,
  `projection_size`), from the module or its `state_dict`.
- `from_mingru_pytorch`: `minGRU_pytorch.minGRU` and `minLSTM`, from the
  module or its `state_dict`.
- `from_xlstm`: the official xLSTM's sLSTM (`sLSTMLayer`, `xLSTMBlock`,
  `sLSTMCell`), from the module or its `state_dict`.
"""

from keras_gates.importers.mingru import from_mingru_pytorch
from keras_gates.importers.sru import from_sru
from keras_gates.importers.tf1 import from_tf1_checkpoint
from keras_gates.importers.tf1 import from_tf1_lstm_cell
from keras_gates.importers.xlstm import from_xlstm

__all__ = [
    "from_tf1_lstm_cell",
    "from_tf1_checkpoint",
    "from_sru",
    "from_mingru_pytorch",
    "from_xlstm",
]
